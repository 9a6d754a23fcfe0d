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


@pytest.mark.parametrize(
    "text, message",
    [
        ("[{", "not valid JSON"),
        ('{"dev": "namespace0.0"', "not valid JSON"),
        ("42", "int where an object"),
        ('["x"]', "str where an object"),
        (json.dumps([record(mode=DELETE)]), "namespace0.0: no 'mode'"),
        (json.dumps([record(mode=7)]), "'mode' is int"),
        (json.dumps([record(name=["a"])]), "'name' is list"),
        (json.dumps([record(size=True)]), "'size' is bool"),
        (json.dumps([record(daxregion=[])]), "'daxregion' is list"),
        (json.dumps([with_device(chardev=DELETE)]), "no 'chardev'"),
        (json.dumps([record(daxregion={"devices": ["dax0.0"]})]), "devices[0] is str"),
        (json.dumps({"regions": 3}), "'regions' is int"),
    ],
)
def test_bad_output_is_a_typed_error_naming_the_field(text, message):
    with pytest.raises(ParseError, match=None) as info:
        ndctl_json.parse(text)
    assert message in str(info.value)
