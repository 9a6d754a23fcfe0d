"""`pmem-placement remove`: decommission a host's PMEM provider without losing an allocation."""

from tests import helpers
from tests.functional.agents import Running
from tests.functional.agents import wait_for
from tests.functional.conftest import check_lines
from tests.functional.conftest import vpmem_inventory


def test_remove_deletes_a_free_provider(node, admin):
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    dry = node.run("remove", "--dry-run")
    assert dry.status == 3 and dry.writes == []
    assert f"{node.name}:pmem: would be deleted (dry run, nothing written)" in dry.out
    assert admin.provider(child) is not None
    del node.options["pmem"]["namespaces"]  # remove needs no mapping
    result = node.run("remove")
    assert result.status == 0, result.err
    assert f"- resource provider {node.name}:pmem" in result.out
    assert admin.provider(child) is None
    again = node.run("remove")
    assert again.status == 0 and again.writes == []
    assert "no PMEM provider, nothing to remove" in again.out


def test_remove_fences_a_provider_in_use_names_consumers_and_finishes_later(node, admin):
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    consumer = admin.consume(child, {"CUSTOM_PMEM_NAMESPACE_SMALL": 1})
    dry = node.run("remove", "--dry-run")
    assert dry.status == 1 and dry.writes == []
    assert f"  consumer {consumer} holds CUSTOM_PMEM_NAMESPACE_SMALL=1" in dry.out
    assert "would be fenced (dry run, nothing written)" in dry.out
    assert set(admin.inventories(child)) == {"CUSTOM_PMEM_NAMESPACE_4GB", "CUSTOM_PMEM_NAMESPACE_SMALL"}
    result = node.run("remove")
    assert result.status == 1
    assert f"  consumer {consumer} holds CUSTOM_PMEM_NAMESPACE_SMALL=1" in result.out
    assert "still in use by 1 consumer, fenced (reserved = total)" in result.out
    inventories = admin.inventories(child)
    assert list(inventories) == ["CUSTOM_PMEM_NAMESPACE_SMALL"]
    assert inventories["CUSTOM_PMEM_NAMESPACE_SMALL"]["reserved"] == inventories["CUSTOM_PMEM_NAMESPACE_SMALL"]["total"]
    assert admin.allocations(consumer) == {child: {"resources": {"CUSTOM_PMEM_NAMESPACE_SMALL": 1},
                                                   "generation": admin.provider(child)["generation"]}}
    admin.free(consumer)
    result = node.run("remove")
    assert result.status == 0, result.out + result.err
    assert admin.provider(child) is None


def test_remove_refuses_while_the_agent_runs_and_would_recreate_the_provider(node, admin):
    import signal

    from pmem_placement import status_file

    a = Running(node, interval=1)
    try:
        a.wait_state("in_sync")
        child = admin.child_uuid(node.name)
        for args in (("remove",), ("remove", "--dry-run")):
            result = node.run(*args)
            assert result.status == 1, result.out + result.err
            assert result.writes == [] and result.out == ""
            assert "the agent is running (pid" in result.err
            assert "stop the agent first: systemctl disable --now pmem-placement-agent; nothing was written" \
                in result.err
        assert admin.provider(child) is not None
        a.signal(signal.SIGTERM)  # systemctl stop
        assert a.proc.wait(timeout=20) == 0
        wait_for(lambda: status_file.running(str(node.dir / "state")).held is False, what="the worker gone")
    finally:
        a.stop()
    # stopped: no process holds its lock
    result = node.run("remove")
    assert result.status == 0, result.err
    assert admin.provider(child) is None
    # an agent that runs with an empty mapping removes the provider itself: nothing to refuse
    node.configure(pmem={"namespaces": ""})
    a = Running(node, interval=1)
    try:
        wait_for(lambda: (s := a.status()) and s["cycles"] > 0 and s["state"] == "in_sync"
                 and s["provider"] is None, what="the agent with nothing to report")
        again = node.run("remove")
        assert again.status == 0, again.err
        assert "no PMEM provider, nothing to remove" in again.out
    finally:
        a.stop()


def test_remove_honours_lock_timeout(node, admin):
    assert node.run("reconcile").status == 0
    with helpers.held_lock(node.dir / "state"):
        result = node.run("remove", "--lock-timeout", "0.2")
    assert result.status == 1 and result.writes == []
    assert "waiting for the host's lock" in result.err and "for up to 0.2 s" in result.err
    assert admin.provider(admin.child_uuid(node.name)) is not None


def test_an_audit_mode_agent_does_not_block_remove_of_a_provider_reported_twice(nova, admin, tmp_path, agent_lock):
    """The audit's reported_twice advises remove: an agent in audit mode never writes, so remove
    must not refuse because of it; it records its mode and configuration (check says reload)."""
    import json

    from pmem_placement import mapping

    child = admin.create_child(nova.root, f"{nova.name}:pmem", vpmem_inventory(CUSTOM_PMEM_NAMESPACE_OTHER=1),
                               rp_uuid=admin.child_uuid(nova.name), traits=[mapping.MANAGED_TRAIT])
    agent = nova.audit_agent()  # in this process: its status fresh
    agent_lock(nova, mode="audit", mapping_empty=True)  # this process stands for the running agent
    assert agent.cycle()
    result = nova.run("remove")
    assert result.status == 0, result.out + result.err
    assert "the agent is running" not in result.err
    status = json.loads((nova.dir / "state" / "status.json").read_text())
    assert status["mode"] == "audit" and status["config_fingerprint"]
    assert [f["kind"] for f in status["findings"]] == ["reported_twice"]
    assert "'pmem-placement remove'" in status["findings"][0]["message"]
    assert admin.provider(child) is None
    assert agent.cycle()
    assert json.loads((nova.dir / "state" / "status.json").read_text())["findings"] == []

    # its configuration is compared with the files like a report-mode agent's
    assert check_lines(nova.run("check"))["agent"].startswith("Success  agent: in sync")
    nova.configure(pmem={"nova_config_dir": str(tmp_path)})
    line = check_lines(nova.run("check"))["agent"]
    assert line.startswith("Warning  agent: the agent runs with another configuration than these files; "
                           "reload the agent"), line
