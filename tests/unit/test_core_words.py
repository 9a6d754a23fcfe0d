"""What the core says of names, word for word: a compute node name without room for ours, the
provider's names and uuids, and why a configured namespace that is not found is not. Guards
against a refusal at the wrong length, an aside name that collides, and a hint that sends an
operator to the wrong namespace."""

import dataclasses
import uuid

import pytest

from pmem_placement import desired
from pmem_placement import mapping
from pmem_placement.discover.model import Namespace

ROOT = "5a1d3e5e-7d4b-4b53-9a8c-0d6c3f1f2b11"


def test_compute_node_names_have_room_for_ours_up_to_186_characters():
    assert desired.MAX_ROOT_NAME == 186
    assert desired.name_too_long("c" * 186) is None
    assert desired.name_too_long("c" * 187) == (
        f"the compute node's name {'c' * 40}... is 187 characters long: the PMEM provider's name (and "
        "<name>-<uuid8>:pmem while it is renamed) would exceed Placement's 200; pmem-placement serves compute "
        "node names of up to 186")


def test_the_uuid_0_1_0_derived_and_the_aside_name():
    assert desired.legacy_uuid(ROOT, "compute-1:pmem") == str(uuid.uuid5(uuid.UUID(ROOT), "compute-1:pmem"))
    assert desired.aside_name("compute-1:pmem", "0d6c3f1f-0000") == "compute-1-0d6c3f1f:pmem"
    assert desired.aside_name("odd-name", "0d6c3f1f-0000") == "odd-name-0d6c3f1f:pmem"
    assert len(desired.aside_name("c" * 186 + ":pmem", ROOT)) == desired.MAX_NAME


def test_only_our_classes_are_pmem_classes():
    assert mapping.is_pmem_class("CUSTOM_PMEM_NAMESPACE_4GB") and not mapping.is_pmem_class("CUSTOM_PMEM")
    assert mapping.pmem_only({"CUSTOM_PMEM_NAMESPACE_A": 1, "VCPU": 4, "custom_pmem_namespace_b": 2}) == {
        "CUSTOM_PMEM_NAMESPACE_A": 1}


def _ns(dev, name, chardev=None):
    return Namespace(dev=dev, mode="devdax", name=name, size=1 << 30, has_device_list=True,
                     chardev=chardev or dev.replace("namespace", "dax"), device_mode="devdax")


HOST = [_ns("namespace0.0", "ns_0"), _ns("namespace0.1", None), _ns("namespace0.2", "ns_2")]


@pytest.mark.parametrize("configured, message", [
    ("A:namespace0.1", "namespace 'namespace0.1' (label 'A') exists but has no name: namespaces are given by name; "
                       "name it with 'ndctl create-namespace -f -e namespace0.1 -m devdax -n NAME' (this destroys its "
                       "data) and configure that name"),
    ("A:dax0.1", "namespace 'dax0.1' (label 'A') exists but has no name: namespaces are given by name; name it with "
                 "'ndctl create-namespace -f -e namespace0.1 -m devdax -n NAME' (this destroys its data) and "
                 "configure that name"),
    ("A:namespace0.2", "namespace 'namespace0.2' (label 'A') is the device of namespace 'ns_2': namespaces are given "
                       "by name, use 'ns_2'"),
    ("A:dax0.0", "namespace 'dax0.0' (label 'A') is the device of namespace 'ns_0': namespaces are given by name, use "
                 "'ns_0'"),
    ("A:ns_O", "namespace 'ns_O' (label 'A') is not on this host: did you mean 'ns_0'?"),
    ("A:ns_0,B:ns_O", "namespace 'ns_O' (label 'B') is not on this host: did you mean 'ns_2'?"),
    ("A:zzzzzz", "namespace 'zzzzzz' (label 'A') is not on this host"),
], ids=["unnamed-by-dev", "unnamed-by-chardev", "named-by-dev", "named-by-chardev", "look-alike",
        "configured-elsewhere-not-suggested", "no-hint"])
def test_a_configured_namespace_that_is_not_found_says_why(configured, message):
    [withdrawn] = mapping.resolve(mapping.parse(configured), HOST).withdrawn
    assert withdrawn.message == message
    assert withdrawn.reason == f"{withdrawn.name} " + message.split(") ", 1)[1].split(":")[0]


def test_a_provider_at_today_s_uuid_with_pmem_and_no_trait_is_someone_else_s():
    from pmem_placement import tree

    today = {"uuid": "t0day"}
    assert tree.classify(ROOT, "t0day", today, {"CUSTOM_PMEM_NAMESPACE_A"}, frozenset()) == tree.FOREIGN
    assert tree.classify(ROOT, "t0day", today, set(), frozenset()) == tree.TODAY  # blank: ours to take
    assert tree.classify(ROOT, "t0day", today, {"CUSTOM_PMEM_NAMESPACE_A"}, None) == tree.TODAY  # not read


def test_the_classes_of_the_tree_by_provider_sorted():
    from pmem_placement import tree

    found = tree.PmemInTree(elsewhere={"compute-1": {"CUSTOM_PMEM_NAMESPACE_B": 1, "CUSTOM_PMEM_NAMESPACE_A": 2}},
                            ours={"compute-1:pmem": {"CUSTOM_PMEM_NAMESPACE_Z": 1, "CUSTOM_PMEM_NAMESPACE_C": 1}})
    assert found.classes_elsewhere() == {"compute-1": ["CUSTOM_PMEM_NAMESPACE_A", "CUSTOM_PMEM_NAMESPACE_B"]}
    assert found.classes_ours() == {"compute-1:pmem": ["CUSTOM_PMEM_NAMESPACE_C", "CUSTOM_PMEM_NAMESPACE_Z"]}


def test_traits_skip_blanks_and_allow_placement_s_longest_name():
    longest = "CUSTOM_" + "X" * (255 - len("CUSTOM_"))
    assert mapping.traits(["", " CUSTOM_A ", longest]) == {mapping.MANAGED_TRAIT, "CUSTOM_A", longest}
    with pytest.raises(Exception, match="is not a custom trait name"):
        mapping.traits([longest + "X"])


def test_every_withdrawn_namespace_of_a_class_is_listed_under_it():
    withdrawn = mapping.resolve(mapping.parse("A:gone_1|gone_2"), HOST).withdrawn_by_class()
    assert withdrawn == {"CUSTOM_PMEM_NAMESPACE_A": ("gone_1 is not on this host", "gone_2 is not on this host")}


def test_desired_keeps_only_reasons_of_configured_classes_and_every_class_s_names():
    want = desired.desired(ROOT, "compute-1", {"CUSTOM_PMEM_NAMESPACE_A": 2, "CUSTOM_PMEM_NAMESPACE_B": 1},
                           frozenset(), namespaces={"CUSTOM_PMEM_NAMESPACE_A": ["a0", "a1"]},
                           withdrawn={"CUSTOM_PMEM_NAMESPACE_B": (), "CUSTOM_PMEM_NAMESPACE_Z": ("z0: gone",)})
    assert dict(want.withdrawn) == {}
    assert want.namespaces == {"CUSTOM_PMEM_NAMESPACE_A": frozenset({"a0", "a1"}), "CUSTOM_PMEM_NAMESPACE_B": frozenset()}


def test_the_mapping_skips_empty_entries_and_splits_at_the_first_colon():
    labels = mapping.parse(" , A:ns:0 ,, B:ns_1 ,")
    assert [(label.label, label.namespace_names) for label in labels] == [("A", ("ns:0",)), ("B", ("ns_1",))]


def test_a_label_makes_a_class_up_to_placement_s_longest_name():
    room = 255 - len(mapping.CLASS_PREFIX)
    assert mapping.parse("L" * room + ":ns_0")[0].resource_class == mapping.CLASS_PREFIX + "L" * room
    with pytest.raises(Exception) as raised:
        mapping.parse("L" * (room + 1) + ":ns_0")
    assert str(raised.value) == (f"[pmem]namespaces: label {'L' * (room + 1)!r} makes resource class "
                                 f"{(mapping.CLASS_PREFIX + 'L' * room)[:40]}... longer than Placement's 255 characters")


def _health(state):
    from pmem_placement.discover.model import Health

    return Health(state, ("DIMM nmem0 health is fatal",)) if state != "ok" else Health()


@pytest.mark.parametrize("host, why", [
    ([_ns("namespace0.0", "ns_0"), _ns("namespace1.0", "ns_0")], "ns_0 is ambiguous (namespace0.0, namespace1.0)"),
    ([dataclasses.replace(_ns("namespace0.0", "ns_0"), disabled=True)], "ns_0 is not usable: it is disabled"),
    ([dataclasses.replace(_ns("namespace0.0", "ns_0"), health=_health("unhealthy"))],
     "ns_0 is unhealthy: DIMM nmem0 health is fatal"),
], ids=["ambiguous", "not-usable", "unhealthy-by-default"])
def test_a_withdrawn_namespace_carries_its_name_and_class(host, why):
    [withdrawn] = mapping.resolve(mapping.parse("A:ns_0"), host).withdrawn
    assert (withdrawn.name, withdrawn.resource_class, withdrawn.reason) == ("ns_0", "CUSTOM_PMEM_NAMESPACE_A", why)
