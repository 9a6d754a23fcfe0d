"""Crash safety: the one-shot SIGKILLed right after any single write of a first sync.

The kill comes from inside Placement, after it has committed the write and before the client
reads the answer: the worst moment. The next run must converge with no duplicate or orphaned
provider, no extra resource class or trait, and nothing written to the compute node's provider.
"""

import os
import signal
import subprocess
import sys

import pytest

from pmem_placement.desired import identity

FIRST_SYNC_WRITES = 7  # 2 resource classes, 2 traits, the provider, its traits, its inventory


def run_killed_after(node, faults, write_number):
    node.write_config()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pmem_placement.cmd.cli import main; sys.exit(main())",
         "--config-file", str(node.config_file), "reconcile"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)

    def kill(count):
        if count == write_number:
            os.kill(proc.pid, signal.SIGKILL)
    faults.after_write = kill
    proc.communicate(timeout=60)
    faults.after_write = None
    return proc.returncode


@pytest.mark.parametrize("write_number", range(1, FIRST_SYNC_WRITES + 1))
def test_killed_after_any_write_then_the_next_run_converges(node, admin, faults, write_number):
    label = f"K{os.urandom(3).hex().upper()}"  # classes nobody has created yet
    node.configure(pmem={"namespaces": f"{label}A:ns_0,{label}B:ns_1|ns_2", "traits": f"CUSTOM_{label}_T"})
    [root] = admin.call("GET", f"/resource_providers?name={node.name}")["resource_providers"]
    before_root = admin.snapshot(root["uuid"])[root["uuid"]]

    status = run_killed_after(node, faults, write_number)
    assert status == -signal.SIGKILL

    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert node.run("reconcile").writes == []
    if write_number == FIRST_SYNC_WRITES:
        assert result.writes == []  # the kill came after the last write: nothing was left to do

    tree = admin.tree(root["uuid"])
    child = identity(root["uuid"], node.name)
    assert sorted(rp["name"] for rp in tree) == sorted([node.name, child.name])
    assert {rp["uuid"] for rp in tree} == {root["uuid"], child.uuid}
    assert len(admin.call("GET", f"/resource_providers?name={child.name}")["resource_providers"]) == 1
    assert admin.totals(child.uuid) == {f"CUSTOM_PMEM_NAMESPACE_{label}A": 1, f"CUSTOM_PMEM_NAMESPACE_{label}B": 2}
    assert admin.traits(child.uuid) == {"CUSTOM_PMEM_PLACEMENT_MANAGED", f"CUSTOM_{label}_T"}
    classes = {rc["name"] for rc in admin.call("GET", "/resource_classes")["resource_classes"]}
    assert {c for c in classes if label in c} == {f"CUSTOM_PMEM_NAMESPACE_{label}A", f"CUSTOM_PMEM_NAMESPACE_{label}B"}
    traits = set(admin.call("GET", f"/traits?name=startswith:CUSTOM_{label}")["traits"])
    assert traits == {f"CUSTOM_{label}_T"}
    assert admin.snapshot(root["uuid"])[root["uuid"]] == before_root  # the root was never written
