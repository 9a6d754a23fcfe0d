"""What monitoring reads of a real agent against the real Placement: a clean stop is never a
healthy file, a reload is neither a stop nor a crash, a refused reload shows (with its "did you
mean") in the status, the metrics and `show`, and the shipped alert rules fire on exactly that."""

import json
import os
import signal
import time

import pytest
import yaml

import pmem_placement
from pmem_placement import output
from tests import promql
from tests.functional.agents import Running
from tests.functional.agents import wait_for
from tests.unit.test_alert_rules import RULES

SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"


@pytest.fixture
def agent(node):
    running = []

    def start(**agent_options):
        running.append(Running(node, **agent_options))
        return running[-1]
    yield start
    for r in running:
        r.stop()


def metrics(node):
    return (node.dir / "agent.prom").read_text()


def sample(text, name, **labels):
    found = [v for n, ls, v in promql.samples(text) if n == name and ls == labels]
    return found[0] if found else None


def firing(text, now):
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    return {r["alert"] for r in rules if promql.evaluate(r["expr"], text, now)}


def test_a_clean_stop_writes_stopped_so_that_only_the_stopped_alert_fires(node, agent):
    a = agent(interval=30)
    a.wait_state("in_sync")
    running = metrics(node)
    a.signal(signal.SIGTERM)
    assert a.proc.wait(timeout=60) == 0
    status = json.loads((node.dir / "state" / "status.json").read_text())
    assert status["state"] == "stopped" and status["next_attempt"] is None
    text = metrics(node)
    assert sample(text, "pmem_placement_state", state="stopped") == 1
    assert sample(text, "pmem_placement_state", state="in_sync") == 0
    now = time.time()
    assert firing(running, now) == set()  # the file of the running agent, read now
    assert firing(text, now) == {"PmemPlacementAgentStopped"}
    assert firing(text, now + 3600) == {"PmemPlacementAgentStopped"}  # never stale, however long ago
    shown = node.run("show", "--offline")
    assert "Agent: stopped" in shown.out and "(STALE: the agent was stopped)" in shown.out


def test_a_reload_is_neither_a_stop_nor_a_crash_in_the_log_the_status_or_the_metrics(node, agent):
    a = agent(interval=30)
    a.wait_state("in_sync")
    a.signal(signal.SIGHUP)
    wait_for(lambda: "reloaded from" in a.output(), what="the reload")
    wait_for(lambda: sample(metrics(node), "pmem_placement_reloads_total", result="applied") == 1,
             what=f"the restarted worker's first report; log:\n{a.output()}")
    text = metrics(node)
    assert sample(text, "pmem_placement_state", state="in_sync") == 1
    assert sample(text, "pmem_placement_reload_last_applied") == 1
    out = a.output()
    assert "Caught SIGTERM signal" not in out and "exited with status" not in out and "stopped:" not in out
    assert a.proc.poll() is None


def test_a_refused_reload_shows_why_with_did_you_mean_until_a_good_one_applies(node, agent, admin):
    a = agent(interval=30)
    a.wait_state("in_sync")
    del node.options["pmem"]["namespaces"]
    node.configure(pmem={"namespace": "4GB:ns_0"})  # misspelt: [pmem]namespaces is then not set
    node.write_config()
    a.signal(signal.SIGHUP)

    def refused():
        status = a.status() or {}
        return status if (status.get("last_reload") or {}).get("applied") is False else None
    status = wait_for(refused, what=f"the refused reload in the status; log:\n{a.output()}")
    assert "[pmem]namespaces is not set" in status["last_reload"]["error"]
    assert "[pmem]namespace is not an option and is ignored: did you mean 'namespaces'?" in \
        status["last_reload"]["error"]
    assert status["reloads"] == {"applied": 0, "refused": 1}
    text = metrics(node)
    assert sample(text, "pmem_placement_reload_last_applied") == 0
    assert sample(text, "pmem_placement_reloads_total", result="refused") == 1
    assert "PmemPlacementReloadRefused" in firing(text, time.time())
    [line] = [line for line in a.output().splitlines() if "reload refused" in line]
    assert "did you mean 'namespaces'?" in line
    assert "  reload refused at " in "\n".join(output.agent_lines({**status, "stale": None}))
    assert admin.totals(admin.child_uuid(node.name)) == {"CUSTOM_PMEM_NAMESPACE_4GB": 1, SMALL: 2}  # the last good one

    del node.options["pmem"]["namespace"]
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:ns_1|ns_2"})
    node.write_config()
    a.signal(signal.SIGHUP)
    wait_for(lambda: sample(metrics(node), "pmem_placement_reload_last_applied") == 1, what="the good reload")
    assert sample(metrics(node), "pmem_placement_reloads_total", result="applied") == 1


def test_the_metrics_say_the_version_the_interval_what_is_used_and_every_error_kind_at_0(node, agent, admin):
    a = agent(interval=30)
    a.wait_state("in_sync")
    text = metrics(node)
    assert sample(text, "pmem_placement_build_info", version=pmem_placement.version()) == 1
    assert sample(text, "pmem_placement_interval_seconds") == 30
    assert sample(text, "pmem_placement_errors_total", kind="fenced") == 0
    assert sample(text, "pmem_placement_errors_total", kind="unavailable") == 0
    assert sample(text, "pmem_placement_inventory_used", resource_class=SMALL) == 0  # the provider was created
    assert sample(text, "pmem_placement_usage_timestamp_seconds") is not None
    assert sample(text, "pmem_placement_error", kind="fenced") is None


def test_a_running_agent_announces_its_next_attempt_in_the_metrics_so_stale_never_fires_between_cycles(node, agent):
    """Guards (found by review): the metrics file kept the next attempt of the cycle before, so a
    healthy agent was a whole interval late by the rules' reckoning at every cycle's end."""
    a = agent(interval=3)
    a.wait_state("in_sync")
    seen = 0
    deadline = time.monotonic() + 60
    while seen < 3 and time.monotonic() < deadline:  # across three cycles
        text = metrics(node)
        last = sample(text, "pmem_placement_last_attempt_timestamp_seconds")
        due = sample(text, "pmem_placement_next_attempt_timestamp_seconds")
        if last is not None and due is not None and due > last:
            seen += 1
            assert due - last >= 3  # the interval, from the attempt's start
            assert "PmemPlacementAgentStale" not in firing(text, due + 2)  # even as the next attempt runs late
        time.sleep(1)
    assert seen == 3


def _worker(a):
    from tests.functional.test_agent import _worker_pid

    return wait_for(lambda: _worker_pid(a.proc.pid), what="the agent's worker")


def test_a_master_that_dies_is_not_reported_as_a_clean_stop(node, agent):
    """Guards (found by review): a killed master made its worker write state stopped, which
    silences the stale alerts."""
    a = agent(interval=30)
    a.wait_state("in_sync")
    worker = _worker(a)
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait(timeout=60)
    wait_for(lambda: not os.path.exists(f"/proc/{worker}"), what="the orphaned worker's end")
    assert json.loads((node.dir / "state" / "status.json").read_text())["state"] == "in_sync"
    assert sample(metrics(node), "pmem_placement_state", state="stopped") == 0
    assert "master process has died" in a.output()


def test_a_worker_that_dies_is_restarted_and_said_so_not_logged_as_a_reload(node, agent):
    a = agent(interval=30)
    a.wait_state("in_sync")
    os.kill(_worker(a), signal.SIGKILL)
    wait_for(lambda: "worker ended unexpectedly and was started again" in a.output(), what="the respawn said")
    assert "reloaded from" not in a.output()
    assert sample(metrics(node), "pmem_placement_reloads_total", result="applied") == 0


def test_a_reload_into_an_outage_keeps_the_last_success(node, agent):
    """Guards (found by review): a reload forgot the last success, so 'not in sync for three
    intervals' could not fire after a reload into a broken configuration."""
    a = agent(interval=30, max_backoff=30)
    before = a.wait_state("in_sync")["last_success"]
    node.configure(placement={"endpoint": "http://127.0.0.1:9", "timeout": 1})
    node.write_config()
    a.signal(signal.SIGHUP)
    status = wait_for(lambda: (a.status() or {}).get("state") == "degraded" and a.status(), what="the outage")
    assert status["last_success"] == before
    assert sample(metrics(node), "pmem_placement_last_success_timestamp_seconds") is not None
