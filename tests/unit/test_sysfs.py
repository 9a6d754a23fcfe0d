"""The sysfs backend over the real sysfs dump of the emulated-NVDIMM host."""

import os
import re
import shutil

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from pmem_placement.discover import ndctl_json
from pmem_placement.discover import sysfs
from pmem_placement.errors import DiscoveryError
from pmem_placement.errors import ParseError
from tests import helpers


@pytest.fixture
def sys_root(tmp_path):
    return helpers.materialize_sysfs(helpers.NDCTL / "sysfs-dump-create.txt", tmp_path)


def test_reads_every_namespace_with_the_same_verdict_as_ndctl(sys_root):
    found = {ns.dev: (ns.name, ns.mode, ns.problem) for ns in sysfs.discover(str(sys_root))}
    assert found == {
        "namespace0.0": ("ns_small", "devdax", None),
        "namespace0.1": ("6GB", "devdax", None),
        "namespace0.2": ("fsdax_ns", "fsdax", "its mode is fsdax, not devdax"),
        "namespace0.3": (None, "devdax", "it has no name"),
        "namespace0.4": ("name with spaces", "devdax", None),
        "namespace1.0": (None, "devdax", "it has no name"),
        "namespace2.0": ("sect", "sector", "its mode is sector, not devdax"),
        "namespace2.1": ("rawns", "raw", "its mode is raw, not devdax"),
        "namespace2.2": ("disabled_ns", "raw", "it is disabled"),
        "namespace2.3": ("fsdax_mem", "fsdax", "its mode is fsdax, not devdax"),
    }


def test_chardev_is_the_dax_device_under_the_holder(sys_root):
    by_dev = {ns.dev: ns for ns in sysfs.discover(str(sys_root))}
    # namespace0.3 is held by nd_dax dax0.2, whose device is dax0.3: names need not match.
    assert by_dev["namespace0.3"].chardev == "dax0.3"
    assert by_dev["namespace0.1"].chardev == "dax0.1"
    assert by_dev["namespace0.1"].size == 526385152  # the dax device's size, as ndctl reports
    assert by_dev["namespace0.1"].numa_node == 0


def _device_dir(sys_root, namespace):
    devices = sys_root / "bus" / "nd" / "devices"
    holder = (devices / namespace / "holder").read_text().strip()
    nd_dax = devices / holder
    [child] = [c for c in os.listdir(nd_dax) if re.match(r"dax\d+\.\d+$", c)]
    return nd_dax / child


def test_system_ram_device_is_not_usable(sys_root):
    device = _device_dir(sys_root, "namespace0.1")
    (device / "driver").unlink()
    os.symlink("../../../../bus/dax/drivers/kmem", device / "driver")
    by_dev = {ns.dev: ns for ns in sysfs.discover(str(sys_root))}
    assert by_dev["namespace0.1"].problem == "its dax device dax0.1 is in system-ram mode, not devdax"


def test_unbound_device_is_disabled(sys_root):
    (_device_dir(sys_root, "namespace0.1") / "driver").unlink()
    by_dev = {ns.dev: ns for ns in sysfs.discover(str(sys_root))}
    assert by_dev["namespace0.1"].problem == "its dax device dax0.1 is disabled"


def test_holder_without_device_has_no_dax_device(sys_root):
    shutil.rmtree(_device_dir(sys_root, "namespace0.0"))
    by_dev = {ns.dev: ns for ns in sysfs.discover(str(sys_root))}
    assert by_dev["namespace0.0"].problem == "it has no dax device"


def test_host_without_nd_bus_is_a_discovery_error_not_an_empty_host(tmp_path):
    # At boot, before the drivers probe, there is no bus: "every namespace is gone" would be a lie.
    with pytest.raises(DiscoveryError, match="no nd bus on this host"):
        sysfs.discover(str(tmp_path))
    (tmp_path / "bus" / "nd" / "devices").mkdir(parents=True)
    with pytest.raises(DiscoveryError, match="no nd bus on this host"):
        sysfs.discover(str(tmp_path))


def test_garbage_attribute_is_a_typed_error(sys_root):
    (sys_root / "bus" / "nd" / "devices" / "namespace0.0" / "size").write_text("lots\n")
    with pytest.raises(ParseError, match=r"namespace0.0/size is 'lots', not a number"):
        sysfs.discover(str(sys_root))


def test_unreadable_attribute_is_a_discovery_error(sys_root):
    mode = sys_root / "bus" / "nd" / "devices" / "namespace0.0" / "mode"
    mode.unlink()
    mode.mkdir()  # reading a directory fails for root too
    with pytest.raises(DiscoveryError, match="cannot read .*namespace0.0/mode"):
        sysfs.discover(str(sys_root))


def test_half_written_namespace_is_a_discovery_error(sys_root):
    (sys_root / "bus" / "nd" / "devices" / "namespace0.0" / "mode").unlink()
    with pytest.raises(DiscoveryError, match="namespace0.0 has no mode attribute"):
        sysfs.discover(str(sys_root))


def test_holder_that_vanished_means_no_dax_device(sys_root):
    (sys_root / "bus" / "nd" / "devices" / "namespace0.1" / "holder").write_text("dax9.9\n")
    by_dev = {ns.dev: ns for ns in sysfs.discover(str(sys_root))}
    assert by_dev["namespace0.1"].problem == "it has no dax device"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attrs=st.dictionaries(st.sampled_from(["mode", "alt_name", "size", "holder", "numa_node", "uuid"]),
                             st.text(max_size=12) | st.sampled_from(["dax", "raw", "memory", "safe", "dax0.0"]),
                             max_size=6),
       driver=st.booleans(), device_driver=st.sampled_from([None, "device_dax", "kmem", "other"]))
def test_sysfs_reader_returns_namespaces_or_a_typed_error(tmp_path, attrs, driver, device_driver):
    import uuid as uuid_mod

    root = tmp_path / uuid_mod.uuid4().hex
    ns = root / "bus" / "nd" / "devices" / "namespace0.0"
    ns.mkdir(parents=True)
    for key, value in attrs.items():
        try:
            (ns / key).write_text(value + "\n")
        except (UnicodeEncodeError, ValueError):
            return
    if driver:
        os.symlink("../../drivers/nd_pmem", ns / "driver")
    device = root / "bus" / "nd" / "devices" / "dax0.0" / "dax0.0"
    device.mkdir(parents=True)
    if device_driver:
        os.symlink(f"../../drivers/{device_driver}", device / "driver")
    try:
        result = sysfs.discover(str(root))
    except DiscoveryError:  # ParseError included
        return
    try:
        size_zero = int(attrs.get("size", "").strip(), 0) == 0
    except ValueError:
        size_zero = False
    # A namespace of size 0 (a seed, or destroyed) is no namespace.
    assert [n.dev for n in result] == ([] if size_zero else ["namespace0.0"])


def test_sizes_are_the_usable_capacity_ndctl_reports_in_every_mode(sys_root):
    # Found on a real kernel: for fsdax and sector namespaces ndctl prints the size of the pfn or
    # btt device that holds the namespace (the capacity left after its metadata), not the raw
    # namespace size; sysfs has both. The dump and the listing are of the same host.
    by_ndctl = {ns.dev: ns for ns in ndctl_json.parse(helpers.sample("v81-list-N-X.json"))}
    by_sysfs = {ns.dev: ns for ns in sysfs.discover(str(sys_root)) if ns.dev in by_ndctl}
    assert {dev: (ns.mode, ns.size) for dev, ns in by_sysfs.items()} == {
        dev: (ns.mode, ns.size) for dev, ns in by_ndctl.items()}
