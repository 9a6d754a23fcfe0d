"""The agent hears of host changes in seconds, whatever its interval, and says so when it cannot.
Its discovery here is a namespaces file (inotify); the kernel's uevents are proven on a real
kernel by the e2e suite (tools/e2e.sh)."""

import os

from tests import helpers
from tests.functional.agents import wait_for
from tests.functional.test_agent import agent  # noqa: F401 - the fixture

SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"


def reserved(admin, node):
    return admin.inventories(admin.child_uuid(node.name))[SMALL]["reserved"]


def test_a_namespace_change_reaches_placement_without_waiting_for_the_interval(node, admin, agent):  # noqa: F811
    a = agent(interval=600)
    first = a.wait_state("in_sync")
    assert first["events"] == "listening (inotify on the directory of ndctl.json)"
    assert "pmem_placement_events_listening 1" in (node.dir / "agent.prom").read_text()
    # Configuration management replaces the file by rename: ns_2 onlined as system RAM.
    staged = node.dir / "ndctl.json.new"
    staged.write_text(helpers.nova_host(system_ram=["ns_2"]))
    os.replace(staged, node.namespaces_file)
    # A generous deadline, far below the 600 s interval: only an event can explain the cycle.
    status = wait_for(lambda: (s := a.status()) and s["cycles"] > first["cycles"] and s, timeout=60,
                      what=f"a cycle woken by the change; log:\n{a.output()}")
    assert status["state"] == "error" and reserved(admin, node) == 1
    node.namespaces_file.write_text(helpers.nova_host())  # written in place
    wait_for(lambda: (s := a.status()) and s["state"] == "in_sync" and s, timeout=60,
             what=f"the next woken cycle; log:\n{a.output()}")
    assert reserved(admin, node) == 0


def test_an_agent_without_events_says_so_once_and_keeps_its_interval(node, agent):  # noqa: F811
    prelude = ("import errno, os\nfrom pmem_placement.agent import events\n"
               "def refused(self, path):\n    raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))\n"
               "events.FileWatch.__init__ = refused\n")
    a = agent(prelude=prelude)
    status = a.wait_state("in_sync", after_cycle=2)
    assert status["events"] == "unavailable (inotify: Too many open files)"
    warnings = [line for line in a.output().splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and warnings[0].endswith(
        "events: unavailable (inotify: Too many open files): namespace changes on this host reach Placement only "
        "at the next cycle, every [agent]interval = 1 s (later while backing off from failures, up to "
        "[agent]max_backoff)")
    assert "pmem_placement_events_listening 0" in (node.dir / "agent.prom").read_text()
