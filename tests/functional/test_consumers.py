"""nova instances holding PMEM from our provider are warned about: nova attaches nothing for them."""

import logging
import uuid

import pytest

from tests.functional.conftest import requests_from_now

SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"
NOT_ATTACHED = "nova does not attach namespaces from a provider it does not manage"


def test_reconcile_warns_about_each_nova_instance_every_run(node, admin):
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    guest = admin.consume(child, {SMALL: 1})
    migration = admin.consume(child, {SMALL: 1}, "MIGRATION")
    for _ in range(2):
        result = node.run("reconcile")
        assert result.status == 0, result.err
        assert f"nova instance {guest} holds {SMALL}=1 from {node.name}:pmem" in result.err
        assert NOT_ATTACHED in result.err
        assert migration not in result.err and result.err.count("\n") == 1
        assert result.writes == []
    admin.free(guest)
    assert node.run("reconcile").err == ""
    # No instance left and the generation unmoved: the one-shot's full read, no allocations read.
    again = node.run("reconcile")
    assert again.err == "" and len(again.requests) == 5
    assert not any("allocations" in path for _, path in again.requests)


def test_first_sync_and_steady_runs_do_not_read_allocations(node):
    first = node.run("reconcile")
    steady = node.run("reconcile")
    assert not any("allocations" in path for _, path in first.requests + steady.requests)
    assert len(steady.requests) == 5  # the one-shot's full read


def test_show_warns_and_says_what_a_consumer_gets(node, admin):
    node.run("reconcile")
    plain = node.run("show")
    assert plain.err == "" and "a nova instance given these gets no nvdimm device" in plain.out
    guest = admin.consume(admin.child_uuid(node.name), {SMALL: 1})
    result = node.run("show")
    assert result.status == 0 and f"nova instance {guest}" in result.err and NOT_ATTACHED in result.err


@pytest.fixture
def agent(node):
    return node.agent()


def test_agent_warns_once_per_instance_and_keeps_its_steady_cycle_at_one_request(node, admin, agent, caplog):
    assert agent.cycle()
    child = admin.child_uuid(node.name)
    caplog.set_level(logging.WARNING, logger="pmem_placement")
    first = admin.consume(child, {SMALL: 1})
    assert agent.cycle()
    assert [r.getMessage() for r in caplog.records if first in r.getMessage()] != []
    caplog.clear()
    sent = requests_from_now(node.placement)
    for _ in range(3):
        assert agent.cycle()
    assert len(sent()) == 3  # one request per steady cycle
    assert caplog.records == []
    second = admin.consume(child, {SMALL: 1})
    assert agent.cycle()
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and second in warned[0] and first not in warned[0]


def test_our_own_writes_do_not_trigger_a_read_but_an_allocation_before_them_does(node, admin):
    node.run("reconcile")
    node.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
    remap = node.run("reconcile")
    assert remap.status == 0 and len(remap.requests) == 6 and remap.err == ""  # full read + one write
    assert not any("allocations" in path for _, path in remap.requests)
    guest = admin.consume(admin.child_uuid(node.name), {"CUSTOM_PMEM_NAMESPACE_4GB": 1})
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:ns_1|ns_2"})
    result = node.run("reconcile")
    assert result.status == 0 and f"nova instance {guest}" in result.err


def test_dry_run_reads_allocations_but_trusts_no_write(node, admin):
    node.run("reconcile")
    guest = admin.consume(admin.child_uuid(node.name), {SMALL: 1})
    node.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
    result = node.run("reconcile", "--dry-run")
    assert result.status == 3 and result.writes == [] and f"nova instance {guest}" in result.err


def allocate_as_nova(admin, child, rc=SMALL):
    """An instance's allocation as nova's report client writes it (claim_resources,
    nova/scheduler/client/report.py): microversion 1.36, no consumer_type."""
    consumer = str(uuid.uuid4())
    project, user = str(uuid.uuid4()), str(uuid.uuid4())
    resp = admin.session.put(f"{admin.url}/allocations/{consumer}", json={
        "allocations": {child: {"resources": {rc: 1}}}, "project_id": project, "user_id": user,
        "consumer_generation": None}, headers={"OpenStack-API-Version": "placement 1.36"})
    assert resp.status_code == 204, resp.text
    return consumer


def test_an_instance_as_nova_writes_it_is_warned_about_by_reconcile_show_and_the_agent(node, admin, caplog):
    agent = node.agent()
    assert agent.cycle()
    guest = allocate_as_nova(admin, admin.child_uuid(node.name))
    reservation = admin.consume(admin.child_uuid(node.name), {SMALL: 1}, "RESERVATION")  # says what it is: not nova's
    expected = (f"consumer {guest} (type unknown, as nova writes its instances) holds {SMALL}=1 from "
                f"{node.name}:pmem")
    caplog.set_level(logging.WARNING, logger="pmem_placement")
    assert agent.cycle()
    assert [r.getMessage() for r in caplog.records if expected in r.getMessage()] != []
    result = node.run("reconcile")
    assert result.status == 0 and expected in result.err and NOT_ATTACHED in result.err
    assert reservation not in result.err and result.err.count("\n") == 1
    again = node.run("reconcile")  # warned on every run; the consumer's type is remembered
    assert expected in again.err and not any(p.startswith("/allocations/") for _, p in again.requests)
    shown = node.run("show")
    assert expected in shown.err


def test_consumer_types_are_read_once_per_consumer(node, admin, agent):
    assert agent.cycle()
    child = admin.child_uuid(node.name)
    allocate_as_nova(admin, child)
    assert agent.cycle()
    second = allocate_as_nova(admin, child)
    sent = requests_from_now(node.placement)
    assert agent.cycle()
    types_read = [path for _, path in sent() if path.startswith("/allocations/")]
    assert types_read == [f"/allocations/{second}"]  # only the new consumer's type
