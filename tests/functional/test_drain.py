"""[pmem]reserved_namespaces takes namespaces out of service against the real Placement: their
units are reserved through the same rule as a withdrawn namespace, consumers keep what they hold,
the run succeeds (an operator's wish is not an error), a misspelt name writes nothing, and the
agent applies it on reload."""

import json
import signal

import pytest

from tests.functional.agents import Running
from tests.functional.agents import wait_for
from tests.functional.conftest import one_line
from tests.functional.test_withdrawn import BIG
from tests.functional.test_withdrawn import SMALL
from tests.functional.test_withdrawn import classes
from tests.functional.test_withdrawn import host_with


def test_a_reserved_namespace_is_not_offered_and_its_consumer_keeps_it(node, admin):
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    child, guest = admin.guest_on(node.name, {SMALL: 1})
    node.configure(pmem={"reserved_namespaces": "ns_2"})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 1, 1)}  # nothing of SMALL is free now
    assert admin.allocations(guest)[child]["resources"] == {SMALL: 1}
    assert "reserved 0 -> 1 (1 withdrawn: ns_2 is reserved by [pmem]reserved_namespaces)" in result.out
    assert node.run("reconcile").writes == []  # steady
    shown = node.run("show", "--format", "json")
    assert {ns["name"]: ns["status"] for ns in json.loads(shown.out)["namespaces"]} == {
        "ns_0": "configured", "ns_1": "configured", "ns_2": "reserved: [pmem]reserved_namespaces"}
    # Back in service: offered again.
    node.configure(pmem={"reserved_namespaces": ""})
    assert node.run("reconcile").status == 0
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 0, 1)}


def test_a_reserved_namespace_that_is_then_destroyed_is_not_an_error(node, admin):
    # The DIMM to be replaced: drained first, then its namespace destroyed.
    node.namespaces_file.write_text(host_with())
    node.configure(pmem={"reserved_namespaces": "ns_2"})
    assert node.run("reconcile").status == 0
    node.namespaces_file.write_text(host_with(gone=["ns_2"]))
    result = node.run("reconcile")
    assert (result.status, result.writes) == (0, [])
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 1, 0)}


@pytest.mark.parametrize("name, hint", [("ns_O", ": did you mean 'ns_0'?"),
                                        ("fast", ": list only names of [pmem]namespaces")])
def test_a_reserved_name_not_configured_is_a_configuration_error_and_writes_nothing(node, admin, name, hint):
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    before = admin.snapshot(admin.root_uuid(node.name))
    node.configure(pmem={"reserved_namespaces": f"ns_1,{name}"})
    result = node.run("reconcile")
    assert result.status == 2 and result.writes == []
    assert one_line(result).strip() == \
        f"pmem-placement: error: [pmem]reserved_namespaces: {name!r} is not in [pmem]namespaces{hint}"
    assert admin.snapshot(admin.root_uuid(node.name)) == before
    assert node.run("check").status == 2


def test_the_agent_applies_a_drain_on_reload(node, admin):
    node.namespaces_file.write_text(host_with())
    agent = Running(node, interval=30)
    try:
        agent.wait_state("in_sync")
        node.configure(pmem={"reserved_namespaces": "ns_0"})
        node.write_config()
        agent.signal(signal.SIGHUP)
        # Interval 30 s: only the reload can apply it within 25 s.
        wait_for(lambda: classes(admin, node)[BIG] == (1, 1, 0), timeout=25, what=f"the drain; log:\n{agent.output()}")
        # the restarted worker's status (its cycles count from 0 again: wait for what it says)
        status = wait_for(lambda: (agent.status() or {}).get("namespaces", {}).get("ns_0", {}).get("offered") is False
                          and agent.status(), what="the drained namespace in the status")
        assert status["state"] == "in_sync"
        assert status["namespaces"]["ns_0"]["why"] == "ns_0 is reserved by [pmem]reserved_namespaces"
    finally:
        agent.stop()
