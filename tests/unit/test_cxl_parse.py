"""What `cxl list --memdevs --health` prints, read in each shape it has, and each way it can be
wrong named; the nd DIMM's serial read as the kernel writes it. Guards against a device list
under "memdevs" passed over (its device's bad health unseen) and odd output taken for no device."""

import json

import pytest

from pmem_placement.discover import cxl
from pmem_placement.errors import DiscoveryError

DEV = {"memdev": "mem0", "serial": 1, "health": {"media_normal": True}}


@pytest.mark.parametrize("printed", [
    [DEV], DEV, {"memdevs": [DEV]}, [{"memdevs": [DEV]}, {"regions": []}], {"bus": "root0", "memdevs:root0": [DEV]},
], ids=["array", "one-device", "memdevs", "beside-regions", "under-a-bus"])
def test_every_shape_gives_the_device(printed):
    assert cxl.parse(json.dumps(printed)) == [DEV]


@pytest.mark.parametrize("printed, message", [
    ("[1]", "[pmem]cxl_path: cxl list printed int where a memory device was expected"),
    ('{"memdevs": ["mem0"]}', "[pmem]cxl_path: cxl list printed str where a memory device was expected"),
])
def test_what_is_no_device_is_named(printed, message):
    with pytest.raises(DiscoveryError) as raised:
        cxl.parse(printed)
    assert str(raised.value) == message


def test_nothing_printed_is_no_device():
    assert cxl.parse(" \n") == []


def test_dimms_that_are_not_a_list_are_none():
    assert cxl._dimms({"dimms": {"dev": "nmem0"}}) == [] and cxl._dimms({}) == []
    assert cxl._dimms({"dimms": [{"dev": "nmem0"}, "nmem1"]}) == [{"dev": "nmem0"}]


@pytest.mark.parametrize("written, serial", [
    (b"42\n", 42), (b"-1\n", 2**64 - 1), (b"\xff\xfe\n", None), (b"", None),
])
def test_the_serial_as_the_kernel_writes_it(tmp_path, written, serial):
    path = tmp_path / "id"
    path.write_bytes(written)
    assert cxl._serial(str(path)) == serial
    assert cxl._serial(str(tmp_path / "none")) is None
