"""`pmem-placement show`: the host's namespaces and Placement's view, for people and scripts."""

import json
import uuid

from tests import helpers
from tests.functional.agents import write_agent_status


def test_show_before_and_after_sync(node, admin):
    records = json.loads(helpers.nova_host(["ns_0", "ns_1", "ns_2", "spare"]))
    records.append(helpers.devdax("gone", "namespace1.0", state="disabled"))
    node.namespaces_file.write_text(json.dumps(records))

    before = node.run("show")
    assert before.status == 0
    assert f"Placement: {node.name} has no PMEM provider" in before.out
    assert before.writes == []

    node.run("reconcile")
    admin.consume(admin.child_uuid(node.name), {"CUSTOM_PMEM_NAMESPACE_SMALL": 1})
    result = node.run("show")
    assert result.status == 0
    lines = result.out.splitlines()
    assert any(line.split()[:2] == ["namespace0.1", "ns_1"] and line.endswith("configured") for line in lines)
    assert any(line.split()[:2] == ["namespace0.3", "spare"] and line.endswith("not in [pmem]namespaces")
               for line in lines)
    assert any(line.split()[:2] == ["namespace1.0", "gone"] and line.endswith("not usable: it is disabled")
               for line in lines)
    assert "  CUSTOM_PMEM_NAMESPACE_SMALL: total 2, reserved 0, used 1" in lines
    assert result.writes == []


def test_show_json(node, admin):
    node.run("reconcile")
    data = json.loads(node.run("show", "--format", "json").out)
    assert list(data) == ["host", "namespaces", "missing", "offline", "placement", "agent", "error"]
    assert data["agent"] is None  # no agent has run on this host
    assert data["namespaces"][0] == {
        "dev": "namespace0.0", "name": "ns_0", "mode": "devdax", "size": 262144000, "chardev": "dax0.0",
        "numa_node": 0, "target_node": 0, "align": 2097152, "region": None, "bus_provider": None, "health": "ok",
        "health_reasons": [], "health_notes": ["this output carries no health signals (ndctl list without "
                                               "--dimms --health --media-errors)"],
        "label": "4GB", "resource_class": "CUSTOM_PMEM_NAMESPACE_4GB", "status": "configured"}
    assert data["placement"]["provider"] == {"name": f"{node.name}:pmem", "uuid": admin.child_uuid(node.name)}
    assert data["placement"]["classes"] == {
        "CUSTOM_PMEM_NAMESPACE_4GB": {"total": 1, "reserved": 0, "used": 0, "state": "open"},
        "CUSTOM_PMEM_NAMESPACE_SMALL": {"total": 2, "reserved": 0, "used": 0, "state": "open"}}
    assert data["placement"]["traits"] == ["CUSTOM_PMEM_PLACEMENT_MANAGED"]
    assert data["placement"]["nova_pmem_classes"] == []


def test_show_names_configured_namespaces_that_are_missing(node):
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:ns_1|ns_7"})
    result = node.run("show")
    assert "configured namespace 'ns_7' is not on this host" in result.out


def test_show_with_placement_down_still_shows_the_host(node):
    node.configure(placement={"endpoint": "http://127.0.0.1:9", "connect_retries": 0})
    result = node.run("show")
    assert result.status == 1
    assert "namespace0.0" in result.out and "Placement: unavailable" in result.out


def test_show_includes_the_agents_status(node):
    write_agent_status(node, 4242, state="degraded", last_attempt=1795627976.0,
                       last_error={"kind": "unavailable", "message": "cannot reach Placement",
                                   "since": "2026-11-25T17:00:00+00:00"})
    out = node.run("show").out
    assert "Agent: degraded, last success never, last attempt 2026-11-25T17:32:56+00:00 (pid 4242)" in out
    assert "  failing since 2026-11-25T17:00:00+00:00: cannot reach Placement" in out
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["agent"]["state"] == "degraded"


def _dead_pid():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_show_marks_a_dead_or_silent_agent_stale(node, agent_lock):
    import os
    import time

    write_agent_status(node, _dead_pid())
    out = node.run("show").out
    assert f"(STALE: no agent is running (no process holds the lock on {node.dir / 'state' / 'agent.pid'}))" in out
    agent_lock(node)  # a live agent, silent or not: this process stands for it
    write_agent_status(node, os.getpid(), last_attempt=time.time() - 3 * 60 - 5)  # no next_attempt
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["agent"]["stale"] is None  # within 3 x [agent]max_backoff
    write_agent_status(node, os.getpid(), last_attempt=time.time() - 3 * 600 - 5)
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["agent"]["stale"] == "no attempt in the last 1800 s (3 x [agent]max_backoff)"
    write_agent_status(node, os.getpid())
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["agent"]["stale"] is None



def test_show_judges_a_backing_off_agent_by_its_own_schedule(node, agent_lock):
    import os
    import time

    agent_lock(node)
    now = time.time()
    # failing for a while: the last attempt is 5 minutes old, the backoff runs the next in 4
    write_agent_status(node, os.getpid(), state="degraded", consecutive_failures=5,
                       last_attempt=now - 300, next_attempt=now + 240)
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["agent"]["stale"] is None
    assert "STALE" not in node.run("show").out
    assert "Warning  agent: the agent is degraded" in node.run("check").out
    # the attempt was due 12 minutes ago (more than twice the 300 s interval) and did not happen: stuck
    write_agent_status(node, os.getpid(), state="degraded", consecutive_failures=5,
                       last_attempt=now - 1200, next_attempt=now - 720)
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["agent"]["stale"].startswith("its next attempt was due at ")
    assert "(more than 2 x [agent]interval)" in data["agent"]["stale"]


def test_show_reports_double_counting_with_nova(node, admin):
    name = f"compute-{uuid.uuid4().hex[:8]}"
    admin.create_compute_node(name, {"CUSTOM_PMEM_NAMESPACE_NOVA": {"total": 2}})
    node.configure(DEFAULT={"host": name})
    result = node.run("show")
    assert result.status == 0
    assert (f"  WARNING double counting: {name} itself has CUSTOM_PMEM_NAMESPACE_NOVA: nova reports PMEM too "
            "([libvirt]pmem_namespaces in nova.conf); report it from one place only") in result.out
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["placement"]["nova_pmem_classes"] == ["CUSTOM_PMEM_NAMESPACE_NOVA"]


def test_show_marks_retiring_classes(node, admin):
    node.run("reconcile")
    admin.consume(admin.child_uuid(node.name), {"CUSTOM_PMEM_NAMESPACE_SMALL": 1})
    node.configure(pmem={"namespaces": "4GB:ns_0"})
    assert node.run("reconcile").status == 0
    result = node.run("show")
    assert "  CUSTOM_PMEM_NAMESPACE_SMALL: total 2, reserved 2, used 1 retiring" in result.out.splitlines()
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["placement"]["classes"]["CUSTOM_PMEM_NAMESPACE_SMALL"]["state"] == "retiring"
    assert data["placement"]["classes"]["CUSTOM_PMEM_NAMESPACE_4GB"]["state"] == "open"


def test_show_offline_needs_no_placement(node):
    node.configure(placement={"endpoint": "http://127.0.0.1:9", "connect_retries": 0})
    result = node.run("show", "--offline")
    assert result.status == 0, result.err
    assert result.requests == []
    assert "namespace0.0" in result.out and "Placement: not contacted (--offline)" in result.out
    data = json.loads(node.run("show", "--offline", "--format", "json").out)
    assert data["offline"] is True and data["placement"] is None and data["error"] is None
    node.options["placement"] = {}  # the main file alone, without the root-only secrets
    result = node.run("show", "--offline")
    assert result.status == 0 and result.err == ""


def test_show_names_a_corrupt_status_file(node):
    (node.dir / "state").mkdir()
    path = node.dir / "state" / "status.json"
    path.write_text('{"state":')
    out = node.run("show", "--offline").out
    assert f"Agent: the agent's status file {path} is corrupt (not JSON:" in out
    data = json.loads(node.run("show", "--offline", "--format", "json").out)
    assert data["agent"]["unreadable"].startswith(f"the agent's status file {path} is corrupt")

def test_show_after_a_rename_names_the_provider_as_placement_does(node, admin):
    """The compute node was renamed and no reconcile ran since: the PMEM provider still has
    its old name in Placement, and show says so."""
    node.run("reconcile")
    root = admin.root_uuid(node.name)
    admin.rename(root, f"{node.name}-b")
    node.configure(DEFAULT={"host": f"{node.name}-b"})
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["placement"]["provider"]["name"] == f"{node.name}:pmem"


def test_show_tells_a_closed_configured_class_from_a_retiring_one(node, admin):
    """SMALL's guest may hold ns_1, now 4GB's only namespace: 4GB is configured but closed;
    SMALL is no longer configured and retiring."""
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:ns_1"})
    node.run("reconcile")
    admin.consume(admin.child_uuid(node.name), {"CUSTOM_PMEM_NAMESPACE_SMALL": 1})
    node.configure(pmem={"namespaces": "4GB:ns_1"})
    assert node.run("reconcile").status == 0
    lines = node.run("show").out.splitlines()
    assert "  CUSTOM_PMEM_NAMESPACE_4GB: total 1, reserved 1, used 0 closed" in lines
    assert "  CUSTOM_PMEM_NAMESPACE_SMALL: total 1, reserved 1, used 1 retiring" in lines


def test_show_reports_pmem_of_another_services_child_and_marks_ours_fenced(node, admin):
    assert node.run("reconcile").status == 0
    other = f"{node.name}:cyborg"
    admin.create_child(admin.root_uuid(node.name), other, {"CUSTOM_PMEM_NAMESPACE_FPGA": {"total": 1}})
    assert node.run("reconcile").status == 1  # fenced: reserved = total on every class
    result = node.run("show")
    assert result.status == 0, result.err
    out = result.out.splitlines()
    assert "  CUSTOM_PMEM_NAMESPACE_4GB: total 1, reserved 1, used 0 fenced" in out
    assert "  CUSTOM_PMEM_NAMESPACE_SMALL: total 2, reserved 2, used 0 fenced" in out
    assert (f"  WARNING double counting: provider {other!r} (another service's) has CUSTOM_PMEM_NAMESPACE_FPGA; "
            "report it from one place only") in out
    data = json.loads(node.run("show", "--format", "json").out)["placement"]
    assert {c["state"] for c in data["classes"].values()} == {"fenced"}
    assert data["pmem_elsewhere"] == {other: ["CUSTOM_PMEM_NAMESPACE_FPGA"]} and data["nova_pmem_classes"] == []
