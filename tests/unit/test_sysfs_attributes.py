"""The sysfs backend attribute by attribute, over the real dump of the emulated-NVDIMM host: what
each attribute becomes in the namespace `show` and the mapping see. Guards against a device of
an unknown driver taken for devdax, a node of -1 reported as one, and bad blocks that cannot be
placed taken for none (or for a crash)."""

import os

import pytest

from pmem_placement.discover import sysfs
from tests import helpers


@pytest.fixture
def sys_root(tmp_path):
    return helpers.materialize_sysfs(helpers.NDCTL / "sysfs-dump-create.txt", tmp_path)


def _devices(sys_root):
    return sys_root / "bus" / "nd" / "devices"


def _dax(sys_root, namespace="namespace0.1"):
    holder = (_devices(sys_root) / namespace / "holder").read_text().strip()
    return _devices(sys_root) / holder


def _found(sys_root, dev="namespace0.1"):
    return {ns.dev: ns for ns in sysfs.discover(str(sys_root))}[dev]


def test_a_device_bound_to_another_driver_is_in_that_driver_s_mode(sys_root):
    driver = _dax(sys_root) / "dax0.1" / "driver"
    driver.unlink()
    os.symlink("../../../../../../../../bus/dax/drivers/dax_hmem", driver)
    assert _found(sys_root).problem == "its dax device dax0.1 is in dax_hmem mode, not devdax"


def test_a_file_named_like_a_device_is_passed_over(sys_root):
    (_dax(sys_root) / "dax0.0").write_text("")  # sorts before dax0.1, is no directory
    ns = _found(sys_root)
    assert (ns.chardev, ns.problem) == ("dax0.1", None)


def test_the_device_s_node_and_alignment(sys_root):
    device = _dax(sys_root) / "dax0.1"
    (device / "align").write_text("65536\n")
    (_devices(sys_root) / "namespace0.1" / "target_node").unlink()
    (device / "target_node").write_text("3\n")
    ns = _found(sys_root)
    assert (ns.align, ns.target_node) == (65536, 3)
    (device / "target_node").write_text("-1\n")  # no node: not reported as one
    assert _found(sys_root).target_node is None


def test_a_namespace_node_of_minus_one_is_no_node(sys_root):
    (_devices(sys_root) / "namespace0.1" / "numa_node").write_text("-1\n")
    (_devices(sys_root) / "namespace0.1" / "target_node").write_text("-1\n")
    (_dax(sys_root) / "dax0.1" / "target_node").write_text("-1\n")
    (_dax(sys_root) / "dax0.1" / "numa_node").write_text("-1\n")
    ns = _found(sys_root)
    assert (ns.numa_node, ns.target_node) == (None, None)


def _bad_sector_in(sys_root, dev="namespace0.1"):
    region = _devices(sys_root) / "region0"
    start = int((_devices(sys_root) / dev / "resource").read_text(), 0)
    (region / "badblocks").write_text(f"{(start - int((region / 'resource').read_text(), 0)) // 512 + 1} 2\n")


@pytest.mark.parametrize("missing", ["resource", "size"])
def test_bad_blocks_in_a_namespace_whose_range_is_not_known_leave_its_health_not_known(sys_root, missing):
    _bad_sector_in(sys_root)
    (_devices(sys_root) / "namespace0.1" / missing).unlink()
    ns = _found(sys_root)
    assert (ns.health.state, ns.health.reasons) == (
        "unknown", ("media errors: region0 has bad blocks and the range of namespace0.1 is not known",))


def test_bad_blocks_are_counted_in_whole_sectors(sys_root):
    _bad_sector_in(sys_root)
    ns = _found(sys_root)
    assert (ns.health.state, ns.health.reasons) == ("unhealthy", ("2 bad blocks (media errors)",))
    assert _found(sys_root, "namespace0.0").health.state == "ok"


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(sys_root):
    (_devices(sys_root) / "namespace0.1" / "alt_name").write_bytes(b"6G\xff\n")
    (_devices(sys_root) / "nmem0" / "nfit" / "flags").write_bytes(b"not_armed \xfe\n")
    ns = _found(sys_root)
    assert ns.name == "6G\ufffd"
    assert ns.health.reasons == ("DIMM nmem0 failed to arm (it cannot keep writes across a power loss)",)


def test_an_attribute_that_cannot_be_read_is_named_with_the_reason(sys_root):
    from pmem_placement.errors import DiscoveryError

    mode = _devices(sys_root) / "namespace0.0" / "mode"
    mode.unlink()
    mode.mkdir()
    with pytest.raises(DiscoveryError) as raised:
        sysfs.discover(str(sys_root))
    assert str(raised.value) == f"sysfs: cannot read {mode}: Is a directory"


def test_node_0_is_a_node_and_attributes_are_read_in_any_base(sys_root):
    device = _dax(sys_root) / "dax0.1"
    (_devices(sys_root) / "namespace0.1" / "target_node").unlink()
    (device / "target_node").write_text("0\n")
    (device / "align").write_text("0x200000\n")
    ns = _found(sys_root)
    assert (ns.target_node, ns.align) == (0, 2097152)


def test_an_empty_attribute_is_no_value(sys_root):
    (_dax(sys_root) / "dax0.1" / "align").write_text("\n")
    assert _found(sys_root).align is None


def test_bad_blocks_across_a_namespace_s_edges_count_only_the_sectors_inside(sys_root):
    region = _devices(sys_root) / "region0"
    offset = int((_devices(sys_root) / "namespace0.1" / "resource").read_text(), 0) - int(
        (region / "resource").read_text(), 0)
    first, sectors = offset // 512, int((_devices(sys_root) / "namespace0.1" / "size").read_text()) // 512
    (region / "badblocks").write_text(f"{first - 1} 3\n{first + sectors - 1} 4\n")
    assert _found(sys_root).health.reasons == ("3 bad blocks (media errors)",)  # 2 at the start, 1 at the end


def test_the_bus_s_provider_and_a_scrub_that_is_done(sys_root):
    (_devices(sys_root) / "ndbus0" / "nfit" / "scrub").write_text("3\n")  # 3 scrubs done, none running
    ns = _found(sys_root)
    assert (ns.bus_provider, ns.health.state) == ("ACPI.NFIT", "ok")


def test_a_scrub_state_that_cannot_be_read_leaves_health_not_known(sys_root):
    scrub = _devices(sys_root) / "ndbus0" / "nfit" / "scrub"
    scrub.unlink(missing_ok=True)
    scrub.mkdir()
    ns = _found(sys_root)
    assert ns.health.state == "unknown"
    assert ns.health.reasons[0].startswith("address range scrub: ")


def test_a_region_attribute_that_cannot_be_read_leaves_health_not_known(sys_root):
    read_only = _devices(sys_root) / "region0" / "read_only"
    read_only.unlink()
    read_only.mkdir()
    ns = _found(sys_root)
    assert ns.health.state == "unknown" and ns.health.reasons[0].startswith("region0: ")


def test_bad_blocks_in_a_region_without_its_range_leave_health_not_known(sys_root):
    _bad_sector_in(sys_root)
    (_devices(sys_root) / "region0" / "resource").unlink()
    assert _found(sys_root).health.reasons == (
        "media errors: region0 has bad blocks and the range of namespace0.1 is not known",)


def test_a_region_without_a_mappings_count_lists_no_dimms(sys_root):
    (_devices(sys_root) / "region0" / "mappings").unlink()
    ns = _found(sys_root)
    assert ns.health.notes == ("region0 has no DIMMs (ACPI.NFIT memory): no DIMM health signals",)
