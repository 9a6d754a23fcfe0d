"""The health of a namespace on a CXL bus is its CXL memory device's ('cxl list --memdevs --health').

The real kernel's output (QEMU 7.2's cxl-type3 on Linux 6.1, tests/data/kernel/) carries no health:
that device does not answer Get Health Info, and 6.1 gives the nd DIMM no cxl/id. The health
objects below are shaped as ndctl's documentation of 'cxl list -H' prints them.
"""

import json

import pytest

from pmem_placement import mapping
from pmem_placement.discover import ndctl
from pmem_placement.discover import sysfs
from pmem_placement.discover.model import OK
from pmem_placement.discover.model import UNHEALTHY
from pmem_placement.discover.model import UNKNOWN
from tests import helpers
from tests.unit.test_kernel_captures import KERNEL

GOOD = {
    "maintenance_needed": False, "performance_degraded": False, "hw_replacement_needed": False,
    "media_normal": True, "media_not_ready": False, "media_persistence_lost": False, "media_data_lost": False,
    "media_powerloss_persistence_loss": False, "media_shutdown_persistence_loss": False,
    "media_persistence_loss_imminent": False, "media_powerloss_data_loss": False,
    "media_shutdown_data_loss": False, "media_data_loss_imminent": False, "ext_life_used": "normal",
    "ext_temperature": "normal", "ext_corrected_volatile": "normal", "ext_corrected_persistent": "normal",
    "life_used_percent": 15, "temperature": 25, "dirty_shutdowns": 0, "volatile_errors": 0, "pmem_errors": 0,
}
# ndctl's documentation of 'cxl list -m mem0 -H'.
DOCUMENTED_BAD = dict(GOOD, maintenance_needed=True, performance_degraded=True, hw_replacement_needed=True,
                      media_normal=False, media_data_lost=True, ext_temperature="critical", dirty_shutdowns=10)


def memdev(name, serial, health=None):
    record = {"memdev": name, "pmem_size": 536870912, "ram_size": 0, "serial": serial,
              "host": f"0000:0{name[-1]}:00.0"}
    if health is not None:
        record["health"] = health
    return record


class Host:
    """ndctl and cxl stubs printing fixed output, and a sysfs root with the nd DIMMs' cxl/id."""

    def __init__(self, tmp_path, ndctl_output, cxl_output, cxl_ids=None, cxl_body=None):
        self.tmp_path = tmp_path
        self.calls = tmp_path / "cxl-calls"
        (tmp_path / "ndctl.json").write_text(ndctl_output)
        (tmp_path / "cxl.json").write_text(cxl_output)
        self.ndctl = self._stub("ndctl", f"/bin/cat {tmp_path / 'ndctl.json'}")
        self.cxl = self._stub("cxl", cxl_body or f'printf "%s\\n" "$@" >> {self.calls}; /bin/cat {tmp_path / "cxl.json"}')
        self.sysfs = tmp_path / "sys"
        for nmem, serial in (cxl_ids or {}).items():
            (self.sysfs / "bus" / "nd" / "devices" / nmem / "cxl").mkdir(parents=True)
            (self.sysfs / "bus" / "nd" / "devices" / nmem / "cxl" / "id").write_text(f"{serial}\n")

    def _stub(self, name, body):
        path = self.tmp_path / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
        return str(path)

    def discover(self, timeout=30):
        return {ns.name: ns for ns in ndctl.discover(self.ndctl, timeout, self.cxl, str(self.sysfs))}


def two_devices():
    """cxl_0 on region0 (nmem0), cxl_1 on region1 (nmem1): one CXL device each."""
    regions = {"region0": [helpers.devdax("cxl_0", "namespace0.0")],
               "region1": [helpers.devdax("cxl_1", "namespace1.0", "dax1.0")]}
    return json.dumps(helpers.combined(regions, provider="CXL"))


def test_the_real_kernels_output_has_no_health_and_no_link_so_the_namespaces_are_offered_with_notes(tmp_path):
    host = Host(tmp_path, (KERNEL / "cxl-combined.json").read_text(), (KERNEL / "cxl-list-M-H.json").read_text())
    found = host.discover()
    assert set(found) == {"cxl_0", "cxl_1"}
    for ns in found.values():
        assert ns.health.state == OK
        assert ns.health.notes == (
            "CXL mem0 reports no health ('cxl list --health': the device did not answer Get Health Info, or "
            "/dev/cxl/mem0 can be opened by root only)",
            "nmem0 is not matched to its CXL memory device (the kernel gives nmem0 no cxl/id before Linux 6.2); "
            "none of this host's CXL memory devices reports bad health")
    assert host.calls.read_text().split() == ["list", "--memdevs", "--health"]


def test_a_device_that_lost_its_data_withdraws_only_the_namespaces_on_it(tmp_path):
    cxl = json.dumps([memdev("mem0", 7, GOOD), memdev("mem1", 9, DOCUMENTED_BAD)])
    found = Host(tmp_path, two_devices(), cxl, cxl_ids={"nmem0": 7, "nmem1": 9}).discover()
    assert found["cxl_0"].health.state == OK and found["cxl_0"].health.notes == ()
    bad = found["cxl_1"].health
    assert bad.state == UNHEALTHY
    assert bad.reasons == ("nmem1 (CXL mem1) has lost its data", "nmem1 (CXL mem1) needs replacement")
    assert bad.notes == ("nmem1 (CXL mem1) needs maintenance", "nmem1 (CXL mem1) is degraded",
                         "nmem1 (CXL mem1) had 10 dirty shutdowns")
    result = mapping.resolve(mapping.parse("CXL:cxl_0|cxl_1"), list(found.values()))
    assert [ns.name for ns in result.offered["CUSTOM_PMEM_NAMESPACE_CXL"]] == ["cxl_0"]
    assert [(w.name, w.reason) for w in result.withdrawn] == [
        ("cxl_1", "cxl_1 is unhealthy: nmem1 (CXL mem1) has lost its data; nmem1 (CXL mem1) needs replacement")]


@pytest.mark.parametrize("flag, reason", [
    ("media_persistence_lost", "has lost write persistence"),
    ("media_powerloss_persistence_loss", "lost write persistence at a power loss"),
    ("media_shutdown_persistence_loss", "lost write persistence at a shutdown"),
    ("media_powerloss_data_loss", "lost its data at a power loss"),
    ("media_shutdown_data_loss", "lost its data at a shutdown"),
    ("media_persistence_loss_imminent", "is about to lose write persistence"),
    ("media_data_loss_imminent", "is about to lose its data"),
])
def test_every_media_state_that_loses_data_is_unhealthy(tmp_path, flag, reason):
    cxl = json.dumps([memdev("mem0", 7, dict(GOOD, media_normal=False, **{flag: True})), memdev("mem1", 9, GOOD)])
    found = Host(tmp_path, two_devices(), cxl, cxl_ids={"nmem0": 7, "nmem1": 9}).discover()
    assert found["cxl_0"].health.reasons == (f"nmem0 (CXL mem0) {reason}",)
    assert found["cxl_1"].health.state == OK


def test_media_not_ready_is_not_known_and_an_unnamed_bad_state_is_unhealthy(tmp_path):
    cxl = json.dumps([memdev("mem0", 7, dict(GOOD, media_normal=False, media_not_ready=True)),
                      memdev("mem1", 9, dict(GOOD, media_normal=False))])
    found = Host(tmp_path, two_devices(), cxl, cxl_ids={"nmem0": 7, "nmem1": 9}).discover()
    assert (found["cxl_0"].health.state, found["cxl_0"].health.reasons) == (UNKNOWN, ("nmem0 (CXL mem0) media is not ready",))
    assert (found["cxl_1"].health.state, found["cxl_1"].health.reasons) == (UNHEALTHY, ("nmem1 (CXL mem1) media is not normal",))


def test_a_dirty_shutdown_alone_is_a_note(tmp_path):
    cxl = json.dumps([memdev("mem0", 7, dict(GOOD, dirty_shutdowns=1)), memdev("mem1", 9, GOOD)])
    found = Host(tmp_path, two_devices(), cxl, cxl_ids={"nmem0": 7, "nmem1": 9}).discover()
    assert found["cxl_0"].health.state == OK
    assert found["cxl_0"].health.notes == ("nmem0 (CXL mem0) had 1 dirty shutdown",)


@pytest.mark.parametrize("cxl_ids", [None, {"nmem0": 0, "nmem1": 0}], ids=["no cxl/id (Linux 6.1)", "serials alike"])
def test_a_bad_device_that_cannot_be_placed_leaves_every_unmatched_namespace_not_known(tmp_path, cxl_ids):
    serials = (0, 0) if cxl_ids else (7, 9)
    cxl = json.dumps([memdev("mem0", serials[0], GOOD), memdev("mem1", serials[1], dict(GOOD, media_data_lost=True))])
    found = Host(tmp_path, two_devices(), cxl, cxl_ids=cxl_ids).discover()
    for ns, nmem in ((found["cxl_0"], "nmem0"), (found["cxl_1"], "nmem1")):
        why = (f"no single device cxl lists has the serial of {nmem}'s cxl/id, 0" if cxl_ids
               else f"the kernel gives {nmem} no cxl/id before Linux 6.2")
        assert ns.health.state == UNKNOWN
        assert ns.health.reasons == (f"CXL mem1 has lost its data, and whether {nmem} is on it is not known ({why})",)


def test_without_cxl_installed_the_namespaces_are_offered_with_a_note(tmp_path, monkeypatch):
    host = Host(tmp_path, two_devices(), "[]")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    found = {ns.name: ns for ns in ndctl.discover(host.ndctl, 30, "cxl", str(host.sysfs))}
    assert found["cxl_0"].health.state == OK
    assert found["cxl_0"].health.notes == (
        "nmem0 is a CXL memory device whose health is not read: [pmem]cxl_path: 'cxl' is not an "
        "executable (install ndctl's cxl tool (Debian and Ubuntu: in the package ndctl; RHEL and Fedora: cxl-cli), "
        "or set cxl_path)",)


def test_a_cxl_path_set_on_purpose_that_is_not_there_leaves_the_health_not_known(tmp_path):
    """Guards: a mistyped [pmem]cxl_path read as 'not installed' and offered the namespaces."""
    host = Host(tmp_path, two_devices(), "[]")
    (tmp_path / "cxl").unlink()
    health = host.discover()["cxl_0"].health
    assert health.state == UNKNOWN
    assert health.reasons == (f"the health of the CXL memory device under nmem0 could not be read: [pmem]cxl_path: "
                              f"'{tmp_path / 'cxl'}' is not an executable (install ndctl's cxl tool (Debian and "
                              "Ubuntu: in the package ndctl; RHEL and Fedora: cxl-cli), or set cxl_path)",)


@pytest.mark.parametrize("cxl_output, reason", [
    ("[]", "cxl lists no CXL memory device for nmem0 (no single device cxl lists has the serial of nmem0's "
     "cxl/id, 7)"),
    (json.dumps([{"serial": 5, "health": dict(GOOD, media_data_lost=True)}]),
     "CXL memory device of serial 5 has lost its data, and whether nmem0 is on it is not known (no single device "
     "cxl lists has the serial of nmem0's cxl/id, 7)"),
    (json.dumps([{"bus": "root0", "memdevs:root0": [memdev("mem0", 5, dict(GOOD, media_data_lost=True))]}]),
     "CXL mem0 has lost its data, and whether nmem0 is on it is not known (no single device cxl lists has the "
     "serial of nmem0's cxl/id, 7)"),
    (json.dumps([memdev("mem0", 7, dict(GOOD, media_data_lost="true"))]),
     "nmem0 (CXL mem0) health is not understood (media_data_lost not true or false)"),
    (json.dumps([memdev("mem0", 7, {})]), "nmem0 (CXL mem0) health is not understood (no media_normal)"),
    (json.dumps([memdev("mem0", 7, dict(GOOD, media_normal=0))]),
     "nmem0 (CXL mem0) health is not understood (media_normal not true or false)"),
    (json.dumps([memdev("mem0", 7, "bad")]), "nmem0 (CXL mem0) health is not understood (not an object)"),
], ids=["no devices", "a device without a name", "devices under a bus", "a string for a flag",
        "an empty health", "a number for media_normal", "a health that is no object"])
def test_what_cxl_prints_that_is_not_understood_is_never_taken_for_good_health(tmp_path, cxl_output, reason):
    """Guards (found by review): a bad device without a 'memdev' name, devices under a bus, or
    flags of another type read as healthy."""
    nfit_like = json.dumps(helpers.combined({"region0": [helpers.devdax("cxl_0", "namespace0.0")]}, provider="CXL"))
    health = Host(tmp_path, nfit_like, cxl_output, cxl_ids={"nmem0": 7}).discover()["cxl_0"].health
    assert health.state == UNKNOWN and health.reasons == (reason,)


def test_a_serial_the_kernel_prints_signed_matches_the_one_cxl_prints_unsigned(tmp_path):
    cxl = json.dumps([memdev("mem0", 2**64 - 1, dict(GOOD, media_data_lost=True)), memdev("mem1", 9, GOOD)])
    found = Host(tmp_path, two_devices(), cxl, cxl_ids={"nmem0": -1, "nmem1": 9}).discover()
    assert found["cxl_0"].health.reasons == ("nmem0 (CXL mem0) has lost its data",)
    assert found["cxl_1"].health.state == OK


@pytest.mark.parametrize("body, why", [
    ("echo 'libcxl: cxl_new: failed' >&2; exit 3", "exited with status 3: libcxl: cxl_new: failed"),
    ("echo '[{\"memdev\":'", "[pmem]cxl_path: what cxl list printed is not valid JSON"),
    ("exec sleep 60", "did not finish within 1 s"),
], ids=["fails", "garbled", "hangs"])
def test_a_cxl_that_fails_leaves_the_health_not_known_and_the_namespaces_withdrawn(tmp_path, body, why):
    # The hang waits out its 1 s timeout: the process group is killed, not waited for.
    found = Host(tmp_path, two_devices(), "[]", cxl_body=body).discover(timeout=1)
    health = found["cxl_0"].health
    assert health.state == UNKNOWN and len(health.reasons) == 1
    assert health.reasons[0].startswith("the health of the CXL memory device under nmem0 could not be read: ")
    assert why in health.reasons[0]
    result = mapping.resolve(mapping.parse("CXL:cxl_0|cxl_1"), list(found.values()))
    assert result.offered["CUSTOM_PMEM_NAMESPACE_CXL"] == ()


def test_cxl_is_not_run_on_a_host_without_a_cxl_bus(tmp_path):
    nfit = json.dumps(helpers.combined({"region0": [helpers.devdax("ns_0", "namespace0.0")]}))
    host = Host(tmp_path, nfit, "[]")
    assert host.discover()["ns_0"].health.state == OK
    assert not host.calls.exists()


def test_both_discoveries_run_it(tmp_path, monkeypatch):
    """discovery = ndctl and = sysfs (which cannot read a CXL device's health itself) both ask cxl."""
    cxl = json.dumps([memdev("mem0", 7, dict(GOOD, media_data_lost=True)), memdev("mem1", 9, GOOD)])
    host = Host(tmp_path, two_devices(), cxl, cxl_ids={"nmem0": 7, "nmem1": 9})
    by_ndctl = {ns.name: ns.health for ns in host.discover().values()}
    assert by_ndctl["cxl_0"].reasons == ("nmem0 (CXL mem0) has lost its data",)
    monkeypatch.setattr(sysfs, "records", lambda root: json.loads(two_devices()))
    by_sysfs = {ns.name: ns.health for ns in sysfs.discover(str(host.sysfs), host.cxl, 30)}
    assert by_sysfs == by_ndctl

