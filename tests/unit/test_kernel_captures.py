"""What a real kernel showed, against what the parsers assumed (captures in tests/data/kernel/).

Each test is a difference the end-to-end suite found between Linux 6.1 with real ndctl and the
samples the parsers were first written against.
"""

import json
import pathlib
import re

import pytest

from pmem_placement import mapping
from pmem_placement.discover import ndctl_json
from pmem_placement.discover import sysfs
from tests import helpers

KERNEL = pathlib.Path(__file__).parent.parent / "data" / "kernel"


def listing(name):
    return ndctl_json.parse((KERNEL / name).read_text(), source=name)


def from_sysfs(dump, tmp_path):
    return sysfs.discover(str(helpers.materialize_sysfs(KERNEL / dump, tmp_path)))


def view(namespaces):
    return {ns.dev: (ns.name, ns.mode, ns.size, ns.chardev, ns.problem, ns.uuid, ns.health.state) for ns in namespaces}


def resolve(value, namespaces):
    return mapping.resolve(mapping.parse(value), namespaces)


@pytest.mark.parametrize("listed, dump", [
    ("ndctl-list-refused.json", "sysfs-dump-refused.txt"),
    ("ndctl-list-destroyed.json", "sysfs-dump-destroyed.txt"),
])
def test_ndctl_and_sysfs_agree_on_a_real_kernel(tmp_path, listed, dump):
    assert view(from_sysfs(dump, tmp_path)) == view(listing(listed))


def test_destroyed_namespace_keeps_its_name_at_size_0_and_is_not_on_the_host(tmp_path):
    raw = json.loads((KERNEL / "ndctl-list-destroyed.json").read_text())
    [left] = [ns for ns in raw if ns.get("name") == "ns_2"]
    assert (left["size"], left["state"], left["mode"]) == (0, "disabled", "raw")
    for namespaces in (listing("ndctl-list-destroyed.json"), from_sysfs("sysfs-dump-destroyed.txt", tmp_path)):
        assert "ns_2" not in {ns.name for ns in namespaces}
        [problem] = resolve("4GB:ns_0|ns_3,SMALL:ns_1|ns_2", namespaces).problems
        assert problem.startswith("namespace 'ns_2' (label 'SMALL') is not on this host")
        result = resolve("4GB:ns_0|ns_3,SMALL:ns_1", namespaces)
        assert not result.problems
        assert {rc: len(nss) for rc, nss in result.offered.items()} == {
            "CUSTOM_PMEM_NAMESPACE_4GB": 2, "CUSTOM_PMEM_NAMESPACE_SMALL": 1}


def test_idle_seeds_of_size_0_are_not_namespaces():
    raw = json.loads((KERNEL / "ndctl-list-refused.json").read_text())
    seeds = {ns["dev"] for ns in raw if ns["size"] == 0}
    assert seeds and not seeds & {ns.dev for ns in listing("ndctl-list-refused.json")}


@pytest.mark.parametrize("name, reason", [
    ("dis_0", "it is disabled"),
    ("ram_0", "its dax device dax0.3 is in system-ram mode, not devdax"),
    ("fs_0", "its mode is fsdax, not devdax"),
    ("namespace1.2", None),  # unnamed: given by its device, which says how to name it
])
def test_unusable_namespaces_are_refused_with_the_reason(tmp_path, name, reason):
    expected = rf"namespace '{name}' .*is not usable: {reason}$" if reason else rf"namespace '{name}' .*exists but has no name"
    for namespaces in (listing("ndctl-list-refused.json"), from_sysfs("sysfs-dump-refused.txt", tmp_path)):
        [problem] = resolve(f"4GB:ns_0,BAD:{name}", namespaces).problems
        assert re.match(expected, problem), problem


def test_a_disabled_devdax_namespace_reads_as_raw(tmp_path):
    for namespaces in (listing("ndctl-list-refused.json"), from_sysfs("sysfs-dump-refused.txt", tmp_path)):
        [dis] = [ns for ns in namespaces if ns.name == "dis_0"]
        assert (dis.mode, dis.disabled) == ("raw", True)


def test_fsdax_size_is_the_capacity_after_its_metadata(tmp_path):
    for namespaces in (listing("ndctl-list-refused.json"), from_sysfs("sysfs-dump-refused.txt", tmp_path)):
        [fs] = [ns for ns in namespaces if ns.name == "fs_0"]
        assert fs.size == 130023424  # of 128 MiB


def test_non_root_ndctl_lacks_only_align_and_memory_block_counts():
    as_root = json.loads((KERNEL / "ndctl-list-root.json").read_text())
    as_nobody = json.loads((KERNEL / "ndctl-list-nonroot.json").read_text())
    for ns in as_root:
        ns.get("daxregion", {}).pop("align", None)
        for device in ns.get("daxregion", {}).get("devices", []):
            for key in ("online_memblocks", "total_memblocks", "movable"):  # system-ram devices only
                device.pop(key, None)
    assert as_root == as_nobody
    assert listing("ndctl-list-root.json") == listing("ndctl-list-nonroot.json")


def test_numa_node_is_the_dax_devices_target_node_in_ndctl_and_in_sysfs_for_every_namespace(tmp_path):
    by_ndctl = {ns.dev: ns.numa_node for ns in listing("ndctl-list-refused.json")}
    by_sysfs = {ns.dev: ns.numa_node for ns in from_sysfs("sysfs-dump-refused.txt", tmp_path)}
    devdax = {ns.dev for ns in listing("ndctl-list-refused.json") if ns.chardev}
    assert {d: by_ndctl[d] for d in devdax} == {d: by_sysfs[d] for d in devdax} == dict.fromkeys(devdax, 0)
    assert {d: n for d, n in by_ndctl.items() if d not in devdax} == dict.fromkeys(set(by_ndctl) - devdax)


def test_a_fresh_host_has_one_unnamed_raw_namespace_per_region():
    namespaces = listing("ndctl-list-N-i-X-label-less.json")
    assert view(namespaces) == {
        "namespace0.0": (None, "raw", 1056964608, None, "its mode is raw, not devdax", None, "ok"),
        "namespace1.0": (None, "raw", 1056964608, None, "its mode is raw, not devdax", None, "ok"),
    }


# Discovery's one ndctl call (--buses --dimms --regions --namespaces --idle --device-dax --health
# --media-errors) on the real kernel: NVDIMMs, a not-armed DIMM, CXL, two buses.

def by_name(name):
    return {ns.name: ns for ns in listing(name) if ns.name}


def test_the_combined_call_as_root_and_as_nobody_sees_the_same_namespaces_and_health():
    root, nobody = by_name("nfit-combined-root.json"), by_name("nfit-combined-nonroot.json")
    assert set(root) == {"ns_a", "ns_b"}
    assert {n: (ns.usable, ns.health, ns.region, ns.bus_provider) for n, ns in root.items()} == \
        {n: (ns.usable, ns.health, ns.region, ns.bus_provider) for n, ns in nobody.items()}
    assert root["ns_a"].health.state == "ok" and root["ns_a"].bus_provider == "ACPI.NFIT"
    # daxregion.align is root-only; the dax device's own align is printed to everyone.
    assert root["ns_a"].align == nobody["ns_a"].align == 2097152


def test_a_not_armed_dimm_makes_the_namespace_on_it_unhealthy_and_only_that_one():
    found = by_name("nfit-unarmed-combined.json")
    assert found["ns_b"].usable  # the kernel still enables it: only its health says otherwise
    assert found["ns_b"].health.state == "unhealthy"
    assert found["ns_b"].health.reasons == ("DIMM nmem1 failed to arm (it cannot keep writes across a power loss)",)
    assert found["ns_a"].health.state == "ok"
    result = resolve("A:ns_a|ns_b", list(found.values()))
    assert [ns.name for ns in result.offered["CUSTOM_PMEM_NAMESPACE_A"]] == ["ns_a"]
    assert [w.name for w in result.withdrawn] == ["ns_b"]
    # The flat listing of old carries no DIMM: the same namespace, no health signal.
    flat = by_name("nfit-unarmed-list-N-i-X.json")
    assert flat["ns_b"].health.state == "ok" and "no health signals" in flat["ns_b"].health.notes[0]


def test_cxl_namespaces_are_reported_like_any_other():
    found = by_name("cxl-combined.json")
    assert set(found) == {"cxl_0", "cxl_1"}
    for ns in found.values():
        assert ns.usable and ns.bus_provider == "CXL" and ns.target_node == 1
        assert ns.health.state == "ok"
        assert ns.health.notes == ("nmem0 is a CXL memory device: this output does not carry its health "
                                   "('cxl list --memdevs --health')",)
    assert {rc: len(nss) for rc, nss in resolve("CXL:cxl_0|cxl_1", list(found.values())).offered.items()} == \
        {"CUSTOM_PMEM_NAMESPACE_CXL": 2}


def test_cxl_destroyed_and_system_ram_namespaces_are_withdrawn():
    for capture, ram_reason in (("cxl-after-destroy-and-system-ram.json", "its dax device dax0.1 is disabled"),
                                ("cxl-256M-after-destroy-and-system-ram.json",
                                 "its dax device dax0.1 is in system-ram mode, not devdax")):
        result = resolve("CXL:cxl_0|cxl_1", listing(capture))
        assert result.offered == {"CUSTOM_PMEM_NAMESPACE_CXL": ()}
        assert [w.reason for w in result.withdrawn] == ["cxl_0 is not on this host",
                                                        f"cxl_1 is not usable: {ram_reason}"], capture


def test_two_buses_in_one_listing():
    found = by_name("two-buses-combined.json")
    assert {n: (ns.bus_provider, ns.region, ns.health.state) for n, ns in found.items()} == {
        "nv_0": ("ACPI.NFIT", "region0", "ok"), "cxl_0": ("CXL", "region1", "ok")}
    # Without --buses ndctl mixes both buses in one object: the same namespaces, no bus named.
    flat = by_name("two-buses-DRN.json")
    assert set(flat) == set(found) and {ns.bus_provider for ns in flat.values()} == {None}


def test_no_nd_bus_prints_nothing_which_is_a_discovery_error():
    from pmem_placement.errors import DiscoveryError

    with pytest.raises(DiscoveryError, match="no nd bus on this host"):
        ndctl_json.parse("", source="ndctl", need_bus=True)


def test_sysfs_reads_every_namespaces_target_node_as_ndctl_verbose_prints_it(tmp_path):
    # Seen by the end-to-end suite: fsdax and disabled namespaces have no dax device, but their
    # own target_node (ndctl --verbose prints it): both discoveries must say 0.
    by_sysfs = {ns.name: ns.target_node for ns in from_sysfs("sysfs-dump-refused.txt", tmp_path) if ns.name}
    assert by_sysfs["fs_0"] == by_sysfs["dis_0"] == by_sysfs["ns_0"] == 0
