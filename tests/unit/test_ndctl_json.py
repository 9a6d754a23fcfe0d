"""The ndctl parser over every real sample and every irregular shape DESIGN.md lists."""

import json

import pytest

from pmem_placement.discover import ndctl_json
from pmem_placement.errors import ParseError
from tests import helpers

# dev -> (name, mode, problem) as the real v81 `ndctl list -N -X` sample shows them.
V81_ALL_MODES = {
    "namespace1.0": (None, "devdax", "it has no name"),
    "namespace0.2": ("fsdax_ns", "fsdax", "its mode is fsdax, not devdax"),
    "namespace0.4": ("name with spaces", "devdax", None),
    "namespace0.1": ("6GB", "devdax", None),
    "namespace0.3": (None, "devdax", "it has no name"),
    "namespace0.0": ("ns_small", "devdax", None),
    "namespace2.1": ("rawns", "raw", "its mode is raw, not devdax"),
    "namespace2.3": ("fsdax_mem", "fsdax", "its mode is fsdax, not devdax"),
    "namespace2.0": ("sect", "sector", "its mode is sector, not devdax"),
}


def table(namespaces):
    return {ns.dev: (ns.name, ns.mode, ns.problem) for ns in namespaces}


@pytest.mark.parametrize("sample", ["v81-list-N-X.json", "v71-list-N-X.json"])
def test_every_mode_listing(sample):
    assert table(ndctl_json.parse(helpers.sample(sample))) == V81_ALL_MODES


def test_devdax_only_listing_is_the_devdax_subset():
    expected = {dev: row for dev, row in V81_ALL_MODES.items() if row[1] == "devdax"}
    assert table(ndctl_json.parse(helpers.sample("v81-list-X.json"))) == expected


def test_after_disable_shows_disabled_namespaces_with_their_name():
    result = table(ndctl_json.parse(helpers.sample("v81-list-N-i-X-after-disable.json")))
    assert result["namespace2.2"] == ("disabled_ns", "raw", "it is disabled")
    assert "namespace0.5" not in result  # the region's idle seed: size 0, no namespace
    assert result["namespace0.0"] == ("ns_small", "devdax", None)


def test_single_namespace_is_still_an_array_on_v62_and_later():
    [ns] = ndctl_json.parse(helpers.sample("v81-list-n-namespace0.0-X.json"))
    assert (ns.dev, ns.name, ns.chardev, ns.size, ns.numa_node, ns.usable) == (
        "namespace0.0", "ns_small", "dax0.0", 262144000, 0, True,
    )


@pytest.mark.parametrize("path", helpers.SAMPLES, ids=lambda p: p.name)
def test_every_sample_parses(path):
    namespaces = ndctl_json.parse(path.read_text())
    assert namespaces and all(ns.dev.startswith("namespace") for ns in namespaces)


def record(**changes):
    base = helpers.devdax("ns_0", "namespace0.0")
    for key, value in changes.items():
        if value is DELETE:
            base.pop(key, None)
        else:
            base[key] = value
    return base


DELETE = object()


def with_device(**fields):
    r = record()
    dev = r["daxregion"]["devices"][0]
    for key, value in fields.items():
        if value is DELETE:
            dev.pop(key)
        else:
            dev[key] = value
    return r


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("", [], id="nothing-found-prints-nothing"),
        pytest.param("  \n", [], id="whitespace"),
        pytest.param(json.dumps(record()), [("ns_0", None)], id="v61-bare-object"),
        pytest.param(json.dumps([record(daxregion={"id": 0, "size": 1, "align": 4096})]), [("ns_0", None)],
                     id="no-devices-list-old-ndctl"),
        pytest.param(json.dumps([record(daxregion={"id": 0, "size": 1})]), [("ns_0", None)],
                     id="no-align-non-root"),
        pytest.param(json.dumps([record(state="disabled")]), [("ns_0", "it is disabled")], id="disabled"),
        pytest.param(json.dumps([with_device(mode="system-ram")]),
                     [("ns_0", "its dax device dax0.0 is in system-ram mode, not devdax")], id="system-ram"),
        pytest.param(json.dumps([with_device(state="disabled")]),
                     [("ns_0", "its dax device dax0.0 is disabled")], id="device-disabled"),
        pytest.param(json.dumps([with_device(mode=DELETE)]), [("ns_0", None)], id="device-without-mode-pre-v66"),
        pytest.param(json.dumps([record(daxregion={"id": 0, "devices": []})]), [("ns_0", "it has no dax device")],
                     id="empty-devices"),
        pytest.param(json.dumps([record(name=DELETE)]), [(None, "it has no name")], id="unnamed"),
        pytest.param(json.dumps([record(name="")]), [(None, "it has no name")], id="empty-name"),
        pytest.param(json.dumps([record(size="250.00 MiB")]), [("ns_0", None)], id="human-sizes"),
        pytest.param(json.dumps({"regions": [{"dev": "region0", "namespaces": [record()]}]}), [("ns_0", None)],
                     id="nested-in-regions"),
        pytest.param(json.dumps([{"dev": "nmem0", "id": "x"}, record()]), [("ns_0", None)], id="other-objects"),
    ],
)
def test_irregular_shapes(text, expected):
    assert [(ns.name, ns.problem) for ns in ndctl_json.parse(text)] == expected


W = "ndctl output, namespace0.0"
D = f"{W} daxregion.devices[0]"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[{", "ndctl output is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 3 "
               "(char 2)"),
        ("42", "ndctl output has int where an object was expected"),
        ('["x"]', "ndctl output has str where an object was expected"),
        (json.dumps([record(mode=DELETE)]), f"{W}: no 'mode'"),
        (json.dumps([record(mode=7)]), f"{W}: 'mode' is int 7, expected str"),
        (json.dumps([record(name=["a"])]), f"{W}: 'name' is list ['a'], expected str"),
        (json.dumps([record(size=True)]), f"{W}: 'size' is bool True, expected int"),
        (json.dumps([record(daxregion=[])]), f"{W}: 'daxregion' is list [], expected dict"),
        (json.dumps([record(daxregion={"devices": {}})]), f"{W} daxregion: 'devices' is dict {{}}, expected list"),
        (json.dumps([with_device(chardev=DELETE)]), f"{D}: no 'chardev'"),
        (json.dumps([with_device(chardev=3)]), f"{D}: 'chardev' is int 3, expected str"),
        (json.dumps([record(daxregion={"devices": ["dax0.0"]})]), f"{W}: daxregion.devices[0] is str, expected dict"),
        (json.dumps({"regions": 3}), "ndctl output: 'regions' is int, not a list"),
        (json.dumps([record(numa_node="0")]), f"{W}: 'numa_node' is str '0', expected int"),
        (json.dumps([record(target_node=1.5)]), f"{W}: 'target_node' is float 1.5, expected int"),
        (json.dumps([with_device(numa_node="x")]), f"{D}: 'numa_node' is str 'x', expected int"),
        (json.dumps([with_device(target_node="x")]), f"{D}: 'target_node' is str 'x', expected int"),
        (json.dumps([with_device(align="4k")]), f"{D}: 'align' is str '4k', expected int"),
        (json.dumps([with_device(mode=1)]), f"{D}: 'mode' is int 1, expected str"),
        (json.dumps([record(badblock_count="2")]), f"{W}: 'badblock_count' is str '2', expected int"),
        (json.dumps([record(uuid=5)]), f"{W}: 'uuid' is int 5, expected str"),
        (json.dumps([record(state=0)]), f"{W}: 'state' is int 0, expected str"),
        (json.dumps([{"provider": 7, "regions": [{"dev": "region0", "namespaces": [record()]}]}]),
         "ndctl output, bus: 'provider' is int 7, expected str"),
    ],
)
def test_bad_output_is_a_typed_error_naming_the_field(text, message):
    """Each message whole: the source, the device and the field, what it is and what it should be."""
    with pytest.raises(ParseError) as info:
        ndctl_json.parse(text)
    assert str(info.value) == message


def test_the_source_is_named_in_every_error():
    with pytest.raises(ParseError, match=r"^/etc/ns\.json output, namespace0\.0: no 'mode'$"):
        ndctl_json.parse(json.dumps([record(mode=DELETE)]), source="/etc/ns.json")
    with pytest.raises(ParseError, match=r"^/etc/ns\.json output has int where"):
        ndctl_json.parse("42", source="/etc/ns.json")


def _one(data):
    [ns] = ndctl_json.from_records(data)
    return ns


def test_every_field_of_a_namespace_in_its_bus_and_region():
    """What `show` prints and the mapping matches on: each field from where ndctl puts it."""
    ns_record = with_device(align=65536, target_node=2, state="disabled")
    ns_record.update(numa_node=1, state="disabled", align=4096)
    ns = _one([{"provider": "CXL", "dev": "ndbus1",
                "regions": [{"dev": "region3", "namespaces": [ns_record]}]}])
    assert (ns.dev, ns.mode, ns.name, ns.size, ns.uuid) == (
        "namespace0.0", "devdax", "ns_0", 262144000, "471db3f2-3c5d-450a-8577-4ef9e9484bd9")
    assert (ns.numa_node, ns.target_node, ns.align) == (1, 2, 65536)  # the device's align comes first
    assert (ns.region, ns.bus_provider) == ("region3", "CXL")
    assert (ns.disabled, ns.has_device_list, ns.chardev, ns.device_mode, ns.device_disabled) == (
        True, True, "dax0.0", "devdax", True)


@pytest.mark.parametrize("on_namespace, on_device, expected", [
    pytest.param({"numa_node": 1, "target_node": 3}, {"numa_node": 2, "target_node": 4}, (1, 3), id="namespace-first"),
    pytest.param({}, {"numa_node": 2, "target_node": 4}, (2, 4), id="device-next"),
    pytest.param({"target_node": 3}, {}, (3, 3), id="node-its-memory-joins-last"),
    pytest.param({}, {"target_node": 4}, (4, 4), id="device-target-node-last"),
    pytest.param({}, {}, (None, None), id="none-printed"),
])
def test_numa_and_target_node_fall_back_in_order(on_namespace, on_device, expected):
    r = with_device(target_node=DELETE)
    r.update(on_namespace)
    r["daxregion"]["devices"][0].update(on_device)
    ns = _one([r])
    assert (ns.numa_node, ns.target_node) == expected


def test_align_falls_back_to_the_namespace_and_sizes_as_text_are_not_sizes():
    r = with_device(align=DELETE)
    r.update(align=4096, size="250.00 MiB")
    ns = _one([r])
    assert (ns.align, ns.size) == (4096, None)
    assert _one([record(daxregion={"id": 0, "size": 1})]).has_device_list is False


def test_destroyed_namespaces_and_idle_seeds_of_size_0_are_not_namespaces():
    seed = record(size=0, dev="namespace0.1")
    assert [ns.dev for ns in ndctl_json.from_records([record(), seed])] == ["namespace0.0"]


def test_a_namespace_outside_any_region_or_bus_has_neither():
    ns = _one([record()])
    assert (ns.region, ns.bus_provider) == (None, None)
    # a region whose name is not a string is no region; the bus keeps its provider
    ns = _one([{"provider": "ACPI.NFIT", "regions": [{"dev": ["r"], "namespaces": [record()]}]}])
    assert (ns.region, ns.bus_provider) == (None, "ACPI.NFIT")


def test_namespace_records_are_every_namespace_as_printed_whatever_the_nesting():
    """What audit hands to nova's parser: every namespace record, never a DIMM, region or bus."""
    ns0, ns1 = record(), record(dev="namespace1.0", name="ns_1")
    odd = {"dev": "namespace2.0", "mode": "devdax", "namespaces": []}  # a namespace holding a list: kept whole
    printed = [{"provider": "ACPI.NFIT", "dev": "ndbus0", "dimms": [{"dev": "nmem0"}],
                "regions": [{"dev": "region0", "dimms": [{"dev": "nmem0"}], "namespaces": [ns0]}]},
               {"dev": "ndbus1", "regions": {"dev": "region1", "namespaces": [ns1, odd]}}, "junk"]
    assert ndctl_json.namespace_records(printed) == [ns0, ns1, odd, "junk"]
    assert ndctl_json.namespace_records([ns0]) == [ns0]
    assert ndctl_json.is_container({"dimms": []}) and not ndctl_json.is_container({"dev": "nmem0"})
