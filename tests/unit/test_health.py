"""Health is part of discovery: each signal a namespace's hardware gives, read from ndctl-shaped
records (real shapes: tests/data/kernel/ and ndctl's documentation) and from sysfs, and what it
makes of the namespace. Every unhealthy case is withdrawn by the mapping; a signal the device does
not provide is a note; a read that failed, or a scrub still running, is not known."""

import json

import pytest

from pmem_placement import mapping
from pmem_placement.discover import ndctl_json
from pmem_placement.discover import sysfs
from pmem_placement.discover.model import OK
from pmem_placement.discover.model import UNHEALTHY
from pmem_placement.discover.model import UNKNOWN
from tests import helpers


def parsed(regions, dimms=None, **bus):
    return {ns.name: ns for ns in ndctl_json.parse(json.dumps(helpers.combined(regions, dimms, **bus)))}


def two_regions(dimms=None, ns_a=None, **bus):
    return parsed({"region0": [helpers.devdax("ns_a", "namespace0.0", **(ns_a or {}))],
                   "region1": [helpers.devdax("ns_b", "namespace1.0", "dax1.0")]}, dimms, **bus)


def test_a_healthy_host_without_a_health_dsm_is_ok_with_a_note():
    found = two_regions()
    assert found["ns_a"].health.state == OK and found["ns_b"].health.state == OK
    assert found["ns_a"].health.notes == ("DIMM nmem0 reports no health ('ndctl list -H' needs a health DSM "
                                          "and /dev/nmem0)",)
    assert (found["ns_a"].region, found["ns_a"].bus_provider) == ("region0", "ACPI.NFIT")


@pytest.mark.parametrize("flag, why", [
    ("flag_failed_arm", "failed to arm (it cannot keep writes across a power loss)"),
    ("flag_failed_save", "failed to save its contents at the last power loss"),
    ("flag_failed_restore", "failed to restore its contents at the last boot"),
    ("flag_failed_flush", "failed to flush at the last shutdown"),
])
def test_a_dimm_that_failed_makes_the_namespaces_on_it_unhealthy_and_only_those(flag, why):
    found = two_regions({"nmem1": {flag: True}})
    assert found["ns_b"].health.state == UNHEALTHY
    assert found["ns_b"].health.reasons == (f"DIMM nmem1 {why}",)
    assert found["ns_a"].health.state == OK


def test_failed_map_is_not_a_health_problem():
    # A DIMM not mapped as persistent memory (Memory Mode): nothing of it is offered anyway.
    assert two_regions({"nmem1": {"flag_failed_map": True}})["ns_b"].health.state == OK


@pytest.mark.parametrize("state, verdict", [("ok", OK), ("non-critical", OK), ("critical", UNHEALTHY),
                                            ("fatal", UNHEALTHY)])
def test_the_health_dsm_state_decides_at_critical_and_fatal(state, verdict):
    health = {"health_state": state, "temperature_celsius": 25.0, "spares_percentage": 99,
              "alarm_temperature": False, "alarm_spares": False, "alarm_lifetime": False,
              "life_used_percentage": 1, "shutdown_state": "clean", "shutdown_count": 3}
    ns = two_regions({"nmem1": {"health": health}})["ns_b"]
    assert ns.health.state == verdict
    if verdict == UNHEALTHY:
        assert ns.health.reasons == (f"DIMM nmem1 health is {state}",)
    elif state == "non-critical":
        assert ns.health.notes == ("DIMM nmem1 health is non-critical",)
    else:
        assert ns.health.notes == ()


def test_dirty_shutdowns_and_alarms_are_reported_not_withdrawn():
    health = {"health_state": "ok", "alarm_spares": True, "alarm_temperature": False,
              "shutdown_state": "dirty", "shutdown_count": 7}
    ns = two_regions({"nmem1": {"health": health}})["ns_b"]
    assert ns.health.state == OK
    assert ns.health.notes == ("DIMM nmem1 had a dirty shutdown (7 in all)", "DIMM nmem1 alarms: spares")


def test_media_errors_make_a_namespace_unhealthy():
    badblocks = {"badblock_count": 8, "badblocks": [{"offset": 1024, "length": 8, "dimms": ["nmem0"]}]}
    found = two_regions(ns_a=badblocks)
    assert found["ns_a"].health.state == UNHEALTHY
    assert found["ns_a"].health.reasons == ("8 bad blocks (media errors)",)
    assert found["ns_b"].health.state == OK


def test_an_address_range_scrub_in_progress_leaves_health_not_known():
    ns = two_regions(scrub_state="active")["ns_a"]
    assert ns.health.state == UNKNOWN
    assert ns.health.reasons == ("an address range scrub is in progress on ndbus0 (media errors not yet known)",)


def test_unhealthy_wins_over_not_known():
    ns = two_regions({"nmem0": {"flag_failed_arm": True}}, scrub_state="active")["ns_a"]
    assert ns.health.state == UNHEALTHY


def test_a_region_without_dimms_is_healthy_with_a_note():
    # e820 / legacy persistent memory (memmap=): a region with no mappings.
    found = parsed({"region0": [helpers.devdax("ns_a", "namespace0.0")]}, {"nmem0": None}, provider="e820")
    assert found["ns_a"].health.state == OK
    assert found["ns_a"].health.notes == ("region0 has no DIMMs (e820 memory): no DIMM health signals",)


def test_a_cxl_memory_device_without_its_cxl_record_is_healthy_with_a_note():
    # A namespaces_file of ndctl's output alone: the CXL device's health is not in it.
    found = parsed({"region0": [helpers.devdax("cxl_0", "namespace0.0")]}, provider="CXL")
    assert found["cxl_0"].health.state == OK and found["cxl_0"].bus_provider == "CXL"
    assert found["cxl_0"].health.notes == ("nmem0 is a CXL memory device: this output does not carry its health "
                                           "('cxl list --memdevs --health')",)


def test_the_flat_listing_of_old_carries_no_health_and_is_accepted():
    [ns] = ndctl_json.parse(json.dumps([helpers.devdax("ns_a", "namespace0.0")]))
    assert ns.health.state == OK
    assert ns.health.notes == ("this output carries no health signals (ndctl list without --dimms --health "
                               "--media-errors)",)


@pytest.mark.parametrize("shape", ["array of buses", "one bus object", "dimms and regions", "two buses"])
def test_every_shape_ndctl_prints_gives_the_same_verdicts(shape):
    [bus] = helpers.combined({"region0": [helpers.devdax("ns_a", "namespace0.0")],
                              "region1": [helpers.devdax("ns_b", "namespace1.0", "dax1.0")]},
                             {"nmem1": {"flag_failed_arm": True}})
    if shape == "one bus object":
        data = bus
    elif shape == "dimms and regions":  # no --buses, one bus: ndctl drops the bus level
        data = {"dimms": bus["dimms"], "regions": bus["regions"]}
    elif shape == "two buses":
        [cxl] = helpers.combined({"region2": [helpers.devdax("cxl_0", "namespace2.0", "dax2.0")]}, provider="CXL")
        cxl["dev"] = "ndbus1"
        data = [bus, cxl]
    else:
        data = [bus]
    found = {ns.name: ns.health.state for ns in ndctl_json.parse(json.dumps(data))}
    assert found["ns_a"] == OK and found["ns_b"] == UNHEALTHY
    if shape == "two buses":
        assert found["cxl_0"] == OK


def test_an_unhealthy_namespace_is_withdrawn_unless_unhealthy_is_offer():
    found = list(two_regions({"nmem1": {"flag_failed_arm": True}}).values())
    labels = mapping.parse("A:ns_a|ns_b")
    reserve = mapping.resolve(labels, found)
    assert [ns.name for ns in reserve.offered["CUSTOM_PMEM_NAMESPACE_A"]] == ["ns_a"]
    assert reserve.problems == [
        "namespace 'ns_b' (namespace1.0, label 'A') is unhealthy: DIMM nmem1 failed to arm (it cannot keep writes "
        "across a power loss) ([pmem]unhealthy = offer would offer it all the same)"]
    assert reserve.report()["ns_b"] == {
        "resource_class": "CUSTOM_PMEM_NAMESPACE_A", "offered": False,
        "why": "ns_b is unhealthy: DIMM nmem1 failed to arm (it cannot keep writes across a power loss)",
        "health": UNHEALTHY, "health_reasons": ["DIMM nmem1 failed to arm (it cannot keep writes across a power loss)"],
        "health_notes": ["DIMM nmem1 reports no health ('ndctl list -H' needs a health DSM and /dev/nmem1)"]}
    offer = mapping.resolve(labels, found, unhealthy="offer")
    assert [ns.name for ns in offer.offered["CUSTOM_PMEM_NAMESPACE_A"]] == ["ns_a", "ns_b"]
    assert offer.problems == [] and [w.name for w in offer.offered_unhealthy] == ["ns_b"]


def test_a_namespace_whose_health_is_not_known_is_withdrawn_too():
    found = list(two_regions(scrub_state="active").values())
    [problem] = mapping.resolve(mapping.parse("A:ns_a"), found).problems
    assert problem.startswith("namespace 'ns_a' (namespace0.0, label 'A') has a health that is not known: an "
                              "address range scrub is in progress")


# sysfs: the same signals, read from the real sysfs dump with the attributes a failing host has.

@pytest.fixture
def sys_root(tmp_path):
    return helpers.materialize_sysfs(helpers.NDCTL / "sysfs-dump-create.txt", tmp_path)


def devices(sys_root):
    return sys_root / "bus" / "nd" / "devices"


def health_by_name(sys_root):
    return {ns.name: ns.health for ns in sysfs.discover(str(sys_root)) if ns.name}


def test_sysfs_of_a_healthy_host_is_ok(sys_root):
    health = health_by_name(sys_root)
    assert {h.state for h in health.values()} == {OK}
    assert health["ns_small"].notes == ("DIMM nmem0 reports no health ('ndctl list -H' needs a health DSM and "
                                        "/dev/nmem0)",)


def test_sysfs_not_armed_flags_and_a_read_only_region(sys_root):
    (devices(sys_root) / "nmem0" / "nfit" / "flags").write_text("not_armed \n")
    (devices(sys_root) / "region0" / "read_only").write_text("1\n")
    health = health_by_name(sys_root)
    assert health["ns_small"].state == UNHEALTHY
    # The read-only region is the failed arm's doing: said once, as ndctl says it.
    assert health["ns_small"].reasons == ("DIMM nmem0 failed to arm (it cannot keep writes across a power loss)",)
    assert health["sect"].state == OK  # region2, on nmem1


def test_sysfs_a_region_read_only_for_another_reason_is_unhealthy(sys_root):
    (devices(sys_root) / "region0" / "read_only").write_text("1\n")
    health = health_by_name(sys_root)
    assert health["ns_small"].state == UNHEALTHY and health["ns_small"].reasons == ("region0 is read-only",)


@pytest.mark.parametrize("word, why", [("save_fail", "failed to save"), ("restore_fail", "failed to restore"),
                                       ("flush_fail", "failed to flush")])
def test_sysfs_flags_say_what_ndctl_says(sys_root, word, why):
    (devices(sys_root) / "nmem0" / "nfit" / "flags").write_text(f"{word} smart_event \n")
    ns = health_by_name(sys_root)["ns_small"]
    assert ns.state == UNHEALTHY and why in ns.reasons[0]
    assert ns.notes[0] == "DIMM nmem0 signals a health event"


def test_sysfs_badblocks_count_only_within_the_namespace(sys_root):
    region = devices(sys_root) / "region0"
    region_start = int((region / "resource").read_text(), 0)
    ns_start = int((devices(sys_root) / "namespace0.1" / "resource").read_text(), 0)
    sector = (ns_start - region_start) // 512
    (region / "badblocks").write_text(f"{sector + 8} 4\n")
    by_dev = {ns.dev: ns.health for ns in sysfs.discover(str(sys_root))}
    assert by_dev["namespace0.1"].state == UNHEALTHY
    assert by_dev["namespace0.1"].reasons == ("4 bad blocks (media errors)",)
    assert by_dev["namespace0.0"].state == OK


def test_sysfs_scrub_in_progress_is_not_known(sys_root):
    (devices(sys_root) / "ndbus0" / "nfit").mkdir(exist_ok=True)
    (devices(sys_root) / "ndbus0" / "nfit" / "scrub").write_text("1+\n")
    assert {h.state for h in health_by_name(sys_root).values()} == {UNKNOWN}


def test_sysfs_a_health_attribute_that_cannot_be_read_is_not_known(sys_root, monkeypatch):
    flags = str(devices(sys_root) / "nmem0" / "nfit" / "flags")
    real_open = open

    def failing_open(path, *args, **kwargs):
        if str(path) == flags:
            raise OSError(5, "Input/output error")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    ns = health_by_name(sys_root)["ns_small"]
    assert ns.state == UNKNOWN
    assert ns.reasons == (f"DIMM nmem0: cannot read {flags}: Input/output error",)


def test_bad_blocks_ndctl_could_not_place_leave_health_not_known():
    # As another user than root (the shipped unit's), ndctl cannot read the namespaces' ranges: it
    # prints the region's badblock_count alone. Never offered on a guess.
    data = json.loads((helpers.DATA / "kernel" / "nfit-combined-nonroot.json").read_text())
    region1 = next(r for bus in data for r in bus["regions"] if r["dev"] == "region1")
    region1.update(badblock_count=8, badblocks=[{"offset": 1024, "length": 8, "dimms": ["nmem1"]}])
    found = {ns.name: ns.health for ns in ndctl_json.parse(json.dumps(data))}
    assert found["ns_b"].state == UNKNOWN
    assert found["ns_b"].reasons == ("region1 has 8 bad blocks and which namespaces they are in is not known "
                                     "(ndctl must read the ranges as root)",)
    assert found["ns_a"].state == OK
    # As root, ndctl places them: a namespace without a count of its own is clean.
    root = json.loads((helpers.DATA / "kernel" / "nfit-combined-root.json").read_text())
    next(r for bus in root for r in bus["regions"] if r["dev"] == "region1").update(badblock_count=8)
    assert {ns.name: ns.health.state for ns in ndctl_json.parse(json.dumps(root))}["ns_b"] == OK


def test_an_output_without_dimms_or_regions_says_which_signals_it_lacks():
    [bus] = helpers.combined({"region0": [helpers.devdax("ns_a", "namespace0.0")]})
    without_dimms = dict(bus)
    del without_dimms["dimms"]
    [ns] = ndctl_json.parse(json.dumps([without_dimms]))
    assert ns.health.state == OK
    assert ns.health.notes == ("this output does not list the DIMMs (ndctl list without --dimms): no DIMM signals",)
    no_regions = {"provider": "ACPI.NFIT", "dev": "ndbus0", "dimms": bus["dimms"],
                  "namespaces": bus["regions"][0]["namespaces"]}
    [ns] = ndctl_json.parse(json.dumps([no_regions]))
    assert ns.health.notes == ("this output does not list the regions (ndctl list without --regions): no DIMM "
                               "signals",)
