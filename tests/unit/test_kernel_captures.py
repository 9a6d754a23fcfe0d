"""What a real kernel showed, against what the parsers assumed (captures in tests/data/kernel/).

Each test is a difference the end-to-end suite found between Linux 6.1 with real ndctl and the
samples the parsers were first written against.
"""

import json
import pathlib

import pytest

from pmem_placement import mapping
from pmem_placement.discover import ndctl_json
from pmem_placement.discover import sysfs
from pmem_placement.errors import ConfigError
from tests import helpers

KERNEL = pathlib.Path(__file__).parent.parent / "data" / "kernel"


def listing(name):
    return ndctl_json.parse((KERNEL / name).read_text(), source=name)


def from_sysfs(dump, tmp_path):
    return sysfs.discover(str(helpers.materialize_sysfs(KERNEL / dump, tmp_path)))


def view(namespaces):
    return {ns.dev: (ns.name, ns.mode, ns.size, ns.chardev, ns.problem) for ns in namespaces}


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
        with pytest.raises(ConfigError, match=r"namespace 'ns_2' \(label 'SMALL'\) is not on this host"):
            resolve("4GB:ns_0|ns_3,SMALL:ns_1|ns_2", namespaces)
        assert set(resolve("4GB:ns_0|ns_3,SMALL:ns_1", namespaces)) == {
            "CUSTOM_PMEM_NAMESPACE_4GB", "CUSTOM_PMEM_NAMESPACE_SMALL"}


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
        with pytest.raises(ConfigError, match=expected):
            resolve(f"4GB:ns_0,BAD:{name}", namespaces)


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
        "namespace0.0": (None, "raw", 1056964608, None, "its mode is raw, not devdax"),
        "namespace1.0": (None, "raw", 1056964608, None, "its mode is raw, not devdax"),
    }
