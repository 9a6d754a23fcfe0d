"""nova's reading of [libvirt]pmem_namespaces and of `ndctl list -X`, over real ndctl output."""

import json

import pytest

from pmem_placement.audit import nova_libvirt as nl
from tests import helpers

LIST_X = helpers.sample("v81-list-X.json")
LIST_N_X = helpers.sample("v81-list-N-X.json")


def test_real_list_x_output_is_read_like_nova():
    host = nl.read_ndctl(LIST_X)
    assert host == nl.NovaHost(frozenset({"ns_small", "6GB", "name with spaces"}))


def test_every_mode_listing_reduced_to_what_list_x_prints():
    assert json.loads(nl.as_listed_by_nova(LIST_N_X)) == json.loads(LIST_X)
    after_disable = helpers.sample("v81-list-N-i-X-after-disable.json")
    assert nl.read_ndctl(nl.as_listed_by_nova(after_disable)).names == {"ns_small", "6GB", "name with spaces"}
    assert nl.as_listed_by_nova("") == ""


@pytest.mark.parametrize("capture, names", [
    ("nfit-combined-root.json", {"ns_a", "ns_b"}),
    ("two-buses-combined.json", {"nv_0", "cxl_0"}),
    ("two-buses-DRN.json", {"nv_0", "cxl_0"}),
    ("cxl-after-destroy-and-system-ram.json", {"cxl_1"}),  # cxl_0 destroyed; cxl_1 listed, its device disabled
])
def test_discoverys_nested_listing_reduced_to_what_list_x_prints(capture, names):
    # [pmem]namespaces_file holds discovery's call (buses, DIMMs, regions): nova's view is the same.
    text = (helpers.DATA / "kernel" / capture).read_text()
    assert nl.read_ndctl(nl.as_listed_by_nova(text)).names == names


def _without(path):
    records = json.loads(LIST_X)
    target = records[2]  # namespace0.1, "6GB"
    *parents, key = path
    for p in parents:
        target = target[p]
    del target[key]
    return json.dumps(records)


@pytest.mark.parametrize("text, failure", [
    ("", None),
    (json.dumps(json.loads(LIST_X)[2]), "bare object"),
    ("not json", "not JSON"),
    # a named fsdax namespace, as in `ndctl list -N -X`
    (LIST_N_X, "'fsdax_ns' (namespace0.2): named, in mode fsdax, without a daxregion"),
    (_without(("daxregion", "align")), "'6GB' (namespace0.1): its daxregion has no align"),
    (_without(("daxregion", "devices")), "'6GB' (namespace0.1): its daxregion lists no devices"),
    (_without(("size",)), "'6GB' (namespace0.1): it has no size"),
])
def test_shapes_that_stop_nova(text, failure):
    host = nl.read_ndctl(text)
    if failure is None:
        assert host.failure is None
    else:
        assert failure in host.failure


def test_align_is_not_required_when_ndctl_ran_without_root():
    assert nl.read_ndctl(_without(("daxregion", "align")), align_known=False).failure is None


def test_unnamed_namespaces_are_skipped_whatever_their_shape():
    records = [{"dev": "namespace9.0", "mode": "fsdax"}, *json.loads(LIST_X)]
    assert nl.read_ndctl(json.dumps(records)).failure is None


def test_parse_splits_like_nova():
    cfg = nl.parse(["4GB:ns_0", "small:a|b", "SMALL:c", "nolabel", "x:y:z", ""])
    assert cfg.malformed == ("nolabel", "")
    assert [(e.label, e.resource_class, e.names) for e in cfg.entries] == [
        ("4GB", "CUSTOM_PMEM_NAMESPACE_4GB", ("ns_0",)),
        ("small", "CUSTOM_PMEM_NAMESPACE_SMALL", ("a", "b")),
        ("SMALL", "CUSTOM_PMEM_NAMESPACE_SMALL", ("c",)),
        ("x", "CUSTOM_PMEM_NAMESPACE_X", ("y:z",)),
    ]


HOST = nl.NovaHost(frozenset({"a", "b"}))


@pytest.mark.parametrize("values, host, causes", [
    ([], nl.NovaHost(frozenset(), "broken"), []),  # nova returns before reading the host
    (["L:a|b"], HOST, []),
    (["L:a", "M:a"], HOST, [("CUSTOM_PMEM_NAMESPACE_M", "a", "configured twice")]),
    (["L:a|c"], HOST, [("CUSTOM_PMEM_NAMESPACE_L", "c", "not among the enabled devdax")]),
    (["L:a| b"], HOST, [("CUSTOM_PMEM_NAMESPACE_L", " b", "not among")]),  # names are not stripped
    (["bad"], HOST, [(None, None, "'bad' does not follow the format")]),
    (["L:a"], nl.NovaHost(frozenset(), "a bare object"), [(None, None, "cannot read ndctl's output: a bare object")]),
])
def test_start_failures(values, host, causes):
    got = nl.start_failures(nl.parse(values), host)
    assert [(rc, ns) for rc, ns, _ in got] == [(rc, ns) for rc, ns, _ in causes]
    for (_, _, why), (_, _, part) in zip(got, causes):
        assert part in why
