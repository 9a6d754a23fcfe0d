"""nova's pmem_namespaces syntax, class names, and every configuration error it can hold."""

import pytest

from pmem_placement import mapping
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import ConfigError


def ns(name, dev="namespace0.0", **kw):
    return Namespace(dev=dev, mode=kw.pop("mode", "devdax"), name=name, has_device_list=True,
                     chardev=dev.replace("namespace", "dax"), device_mode="devdax", **kw)


HOST = [ns("ns_0", "namespace0.0"), ns("ns_1", "namespace0.1"), ns("ns_2", "namespace0.2"),
        ns("name with spaces", "namespace0.4"), ns("fs", "namespace0.5", mode="fsdax"),
        ns("off", "namespace0.6", disabled=True), ns("dup", "namespace1.0"), ns("dup", "namespace1.1")]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("4GB:ns_0,SMALL:ns_1|ns_2",
         [("4GB", "CUSTOM_PMEM_NAMESPACE_4GB", ("ns_0",)),
          ("SMALL", "CUSTOM_PMEM_NAMESPACE_SMALL", ("ns_1", "ns_2"))]),
        ("", []),
        (" , ", []),
        ("small-ones:ns_0", [("small-ones", "CUSTOM_PMEM_NAMESPACE_SMALL_ONES", ("ns_0",))]),
        ("big:name with spaces", [("big", "CUSTOM_PMEM_NAMESPACE_BIG", ("name with spaces",))]),
        (" A : ns_0 | ns_1 ", [("A", "CUSTOM_PMEM_NAMESPACE_A", ("ns_0", "ns_1"))]),
    ],
)
def test_parse(value, expected):
    assert [(lbl.label, lbl.resource_class, lbl.namespace_names) for lbl in mapping.parse(value)] == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("4GB", "entry '4GB' has no ':'"),
        (":ns_0", "entry ':ns_0' has an empty label"),
        ("A:", "entry 'A:' has an empty namespace name"),
        ("A:ns_0|", "has an empty namespace name"),
        ("A:ns_0,B:ns_0", "namespace 'ns_0' is listed twice (under 'A' and 'B')"),
        ("A:ns_0|ns_0", "namespace 'ns_0' is listed twice"),
        ("small-ones:ns_0,SMALL ONES:ns_1", "labels 'small-ones' and 'SMALL ONES' both make resource class "
                                            "CUSTOM_PMEM_NAMESPACE_SMALL_ONES"),
        ("X" * 240 + ":ns_0", "longer than Placement's 255 characters"),
    ],
)
def test_syntax_errors_name_the_option_and_value(value, message):
    with pytest.raises(ConfigError) as info:
        mapping.parse(value)
    assert str(info.value).startswith("[pmem]namespaces: ")
    assert message in str(info.value)


def test_resolve_counts_usable_namespaces_per_class():
    result = mapping.resolve(mapping.parse("4GB:ns_0,SMALL:ns_1|ns_2"), HOST)
    assert {rc: [n.dev for n in nss] for rc, nss in result.offered.items()} == {
        "CUSTOM_PMEM_NAMESPACE_4GB": ["namespace0.0"],
        "CUSTOM_PMEM_NAMESPACE_SMALL": ["namespace0.1", "namespace0.2"],
    }
    assert result.withdrawn == () and result.problems == []


@pytest.mark.parametrize(
    "value, message, reason",
    [
        ("A:ns_9", "namespace 'ns_9' (label 'A') is not on this host", "ns_9 is not on this host"),  # ns_1, ns_2 tie
        ("A:fs", "namespace 'fs' (namespace0.5, label 'A') is not usable: its mode is fsdax, not devdax",
         "fs is not usable: its mode is fsdax, not devdax"),
        ("A:off", "namespace 'off' (namespace0.6, label 'A') is not usable: it is disabled",
         "off is not usable: it is disabled"),
        ("A:dup", "namespace name 'dup' (label 'A') is ambiguous: namespace1.0, namespace1.1 all carry it",
         "dup is ambiguous (namespace1.0, namespace1.1)"),
    ],
)
def test_a_configured_namespace_that_is_not_there_is_withdrawn_with_why(value, message, reason):
    result = mapping.resolve(mapping.parse(f"{value}|ns_0"), HOST)
    # Its unit is withdrawn, the class keeps its configured total, the others are offered.
    assert result.configured == {"CUSTOM_PMEM_NAMESPACE_A": (value[2:], "ns_0")}
    assert [n.name for n in result.offered["CUSTOM_PMEM_NAMESPACE_A"]] == ["ns_0"]
    assert result.problems == [message]
    assert result.withdrawn_by_class() == {"CUSTOM_PMEM_NAMESPACE_A": (reason,)}


def test_traits_always_carry_the_managed_marker():
    assert mapping.traits([]) == {"CUSTOM_PMEM_PLACEMENT_MANAGED"}
    assert mapping.traits(["CUSTOM_FAST", " CUSTOM_RACK_7 "]) == {
        "CUSTOM_PMEM_PLACEMENT_MANAGED", "CUSTOM_FAST", "CUSTOM_RACK_7"}


@pytest.mark.parametrize("bad", ["FAST", "custom_fast", "CUSTOM_", "CUSTOM_FA-ST", "HW_CPU_X86_AVX"])
def test_bad_traits_are_config_errors(bad):
    with pytest.raises(ConfigError, match=r"^\[pmem\]traits: "):
        mapping.traits([bad])


def test_unset_is_an_error_and_empty_means_nothing():
    with pytest.raises(ConfigError, match=r"^\[pmem\]namespaces is not set: .* or set it empty to remove the PMEM"):
        mapping.parse(None)
    assert mapping.parse("") == []


@pytest.mark.parametrize("label", ["CUSTOM_PMEM_NAMESPACE_4GB", "custom_pmem_namespace_4gb"])
def test_a_label_written_as_the_class_name_is_refused(label):
    with pytest.raises(ConfigError, match="is already a resource class name: write the label alone"):
        mapping.parse(f"{label}:ns_0")


@pytest.mark.parametrize(
    "value, problems",
    [
        ("A:ns_0", []),
        ("A:ns0,B:ns_1|zzz", ["namespace 'ns0' (label 'A') is not on this host: did you mean 'ns_0'?",
                               "namespace 'zzz' (label 'B') is not on this host"]),
        ("A:fs|off", ["namespace 'fs' (namespace0.5, label 'A') is not usable: its mode is fsdax, not devdax",
                      "namespace 'off' (namespace0.6, label 'A') is not usable: it is disabled"]),
        ("A:namespace2.0", ["namespace 'namespace2.0' (label 'A') exists but has no name: namespaces are given "
                            "by name; name it with 'ndctl create-namespace -f -e namespace2.0 -m devdax -n NAME' "
                            "(this destroys its data) and configure that name"]),
        ("A:dax2.0", ["namespace 'dax2.0' (label 'A') exists but has no name: namespaces are given "
                      "by name; name it with 'ndctl create-namespace -f -e namespace2.0 -m devdax -n NAME' "
                      "(this destroys its data) and configure that name"]),
    ],
)
def test_problems_are_all_reported_at_once_with_hints(value, problems):
    assert mapping.resolve(mapping.parse(value), HOST + [ns(None, "namespace2.0")]).problems == problems


@pytest.mark.parametrize("host, reason", [
    (HOST, "ns_1 is reserved by [pmem]reserved_namespaces"),
    ([n for n in HOST if n.name != "ns_1"], "ns_1 is reserved by [pmem]reserved_namespaces (ns_1 is not on this host)"),
])
def test_a_reserved_namespace_is_withdrawn_as_the_operators_wish_not_as_a_problem(host, reason):
    result = mapping.resolve(mapping.parse("4GB:ns_0,SMALL:ns_1|ns_2"), host, reserved_names=[" ns_1 ", ""])
    assert [n.name for n in result.offered["CUSTOM_PMEM_NAMESPACE_SMALL"]] == ["ns_2"]
    assert result.withdrawn_by_class() == {"CUSTOM_PMEM_NAMESPACE_SMALL": (reason,)}
    assert result.problems == [] and result.drained == ["ns_1"]
    report = result.report()["ns_1"]
    assert (report["offered"], report["why"]) == (False, reason)
    [drained] = result.withdrawn
    where = "namespace 'ns_1' (namespace0.1, label 'SMALL')" if len(host) == len(HOST) else \
        "namespace 'ns_1' (label 'SMALL')"
    assert drained.message == f"{where} is reserved by [pmem]reserved_namespaces" + reason.partition("namespaces")[2]
    assert drained.resource_class == "CUSTOM_PMEM_NAMESPACE_SMALL" and not drained.unhealthy


def test_a_reserved_unhealthy_namespace_is_reserved_even_when_unhealthy_ones_are_offered():
    sick = [ns("ns_0", "namespace0.0", health=HOST[0].health.__class__("unhealthy", ("DIMM nmem0 failed to arm",)))]
    result = mapping.resolve(mapping.parse("4GB:ns_0"), sick, "offer", reserved_names=["ns_0"])
    assert result.offered == {"CUSTOM_PMEM_NAMESPACE_4GB": ()} and result.warnings == [] and result.problems == []


@pytest.mark.parametrize("names, message", [
    (["ns_O"], "[pmem]reserved_namespaces: 'ns_O' is not in [pmem]namespaces: did you mean 'ns_0'?"),
    (["ns_1", "fast"], "[pmem]reserved_namespaces: 'fast' is not in [pmem]namespaces: list only names of "
                       "[pmem]namespaces"),
])
def test_a_reserved_name_that_is_not_configured_is_a_configuration_error(names, message):
    labels = mapping.parse("4GB:ns_0,SMALL:ns_1|ns_2")
    with pytest.raises(ConfigError) as raised:
        mapping.reserved(labels, names)
    assert str(raised.value) == message
    with pytest.raises(ConfigError):
        mapping.resolve(labels, HOST, reserved_names=names)
    assert mapping.reserved(labels, ["ns_2", " ns_2"]) == frozenset({"ns_2"})


def test_a_class_of_namespaces_of_different_sizes_or_alignments_is_named_with_each():
    host = [ns("a", "namespace0.0", size=4 << 30, align=2 << 20), ns("b", "namespace0.1", size=8 << 30, align=2 << 20),
            ns("c", "namespace0.2", size=4 << 30, align=1 << 30), ns("d", "namespace0.3", size=4 << 30),
            ns("e", "namespace0.4", size=4 << 30, align=2 << 20), ns("f", "namespace0.5", size=4 << 30, align=1 << 30),
            ns("g", "namespace0.6", size=4 << 30, align=1 << 30)]
    # d: no alignment printed (not counted); zz: not on this host (not counted)
    result = mapping.resolve(mapping.parse("MIXED:a|b,ALIGN:c|d|e,SAME:f|g|zz"), host)
    assert mapping.mixed(result) == [
        f"CUSTOM_PMEM_NAMESPACE_ALIGN holds namespaces of different alignments (c {1 << 30}, e {2 << 20}): a guest "
        "cannot know which it gets; give each size its own label",
        f"CUSTOM_PMEM_NAMESPACE_MIXED holds namespaces of different sizes (a {4 << 30}, b {8 << 30}): a guest "
        "cannot know which it gets; give each size its own label",
    ]
    assert mapping.mixed_classes({}, {}) == []
