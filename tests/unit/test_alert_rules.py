"""etc/prometheus/pmem-placement.rules.yml against the metrics the agent writes (report.metrics_text):
each alert fires in the situation it names, and only then. Evaluated by tests/promql.py."""

import pathlib

import pytest
import yaml

from pmem_placement.agent import report
from tests import promql

RULES = pathlib.Path(__file__).resolve().parents[2] / "etc" / "prometheus" / "pmem-placement.rules.yml"
NOW = 1_800_000_000.0
INTERVAL = 300


def rules():
    return {r["alert"]: r for group in yaml.safe_load(RULES.read_text())["groups"] for r in group["rules"]}


def firing(status, at=NOW):
    """The alerts whose expression gives a sample at ``at`` (their ``for`` aside)."""
    text = report.metrics_text(status)
    return {name for name, rule in rules().items() if promql.evaluate(rule["expr"], text, at)}


def running(**changes):
    """An agent in sync that ran a moment ago and runs again in an interval."""
    values = dict(host="cn1", pid=1, state="in_sync", cycles=3, last_attempt=NOW - 1, last_success=NOW - 1,
                  next_attempt=NOW + INTERVAL - 1, interval=INTERVAL,
                  classes={"CUSTOM_PMEM_NAMESPACE_4GB": {"total": 2, "reserved": 0}},
                  namespaces={"ns_0": {"resource_class": "CUSTOM_PMEM_NAMESPACE_4GB", "offered": True, "why": None,
                                       "health": "ok", "health_reasons": [], "health_notes": []}})
    values.update(changes)
    return report.Status(**values)


def test_every_rule_is_understood_and_an_agent_in_sync_fires_none():
    assert set(rules()) == {"PmemPlacementAgentStopped", "PmemPlacementAgentStale", "PmemPlacementNotInSync",
                            "PmemPlacementError", "PmemPlacementDegraded", "PmemPlacementFenced",
                            "PmemPlacementReloadRefused", "PmemPlacementNamespaceUnhealthy", "PmemPlacementFailsafe"}
    assert firing(running()) == set()
    assert firing(running(), at=NOW + 2 * INTERVAL - 5) == set()  # as long as it keeps to its schedule


def test_a_cleanly_stopped_agent_fires_stopped_and_nothing_about_its_schedule_however_long_ago():
    stopped = running(state="stopped", next_attempt=None)
    assert firing(stopped) == {"PmemPlacementAgentStopped"}
    assert firing(stopped, at=NOW + 100 * INTERVAL) == {"PmemPlacementAgentStopped"}


def test_an_agent_stopped_after_a_refused_reload_fires_stopped_only():
    stopped = running(state="stopped", next_attempt=None, reloads={"applied": 0, "refused": 1},
                      last_reload={"at": "t", "applied": False, "error": "e"})
    assert firing(stopped) == {"PmemPlacementAgentStopped"}


def test_a_crashed_agent_which_writes_nothing_more_is_stale_within_two_intervals():
    crashed = running()  # its last file, as it was
    assert firing(crashed, at=NOW + 2 * INTERVAL) == {"PmemPlacementAgentStale"}
    assert firing(crashed, at=NOW + 3 * INTERVAL + 1) == {"PmemPlacementAgentStale", "PmemPlacementNotInSync"}


def test_an_agent_backing_off_from_a_placement_that_is_down_is_degraded_not_stale():
    backing_off = running(state="degraded", consecutive_failures=3, last_success=NOW - 3000,
                          next_attempt=NOW + 600, last_error={"kind": "unavailable", "message": "m", "since": "s"})
    assert firing(backing_off, at=NOW + 599) == {"PmemPlacementDegraded", "PmemPlacementNotInSync"}


@pytest.mark.parametrize("kind, alerts", [
    ("config_error", {"PmemPlacementError"}),
    ("fenced", {"PmemPlacementError", "PmemPlacementFenced"}),
])
def test_an_agent_in_error_fires_error_and_fenced_only_when_fenced(kind, alerts):
    status = running(state="error", last_error={"kind": kind, "message": "m", "since": "s"})
    assert firing(status) == alerts


def test_a_refused_reload_fires_until_a_reload_applies():
    refused = running(reloads={"applied": 0, "refused": 1},
                      last_reload={"at": "t", "applied": False, "error": "[agent]interval ..."})
    assert firing(refused) == {"PmemPlacementReloadRefused"}
    applied = running(reloads={"applied": 1, "refused": 1}, last_reload={"at": "t", "applied": True, "error": None})
    assert firing(applied) == set()


@pytest.mark.parametrize("health", ["unhealthy", "unknown"])
def test_a_namespace_unhealthy_or_of_unknown_health_fires_naming_it(health):
    status = running(state="error")
    status.namespaces["ns_0"].update(health=health, offered=False)
    text = report.metrics_text(status)
    found = promql.evaluate(rules()["PmemPlacementNamespaceUnhealthy"]["expr"], text, NOW)
    assert [dict(labels) for labels in found] == [{"namespace": "ns_0", "state": health}]


def test_units_withheld_by_the_failsafe_fire_per_class():
    status = running(failsafe={"withheld": {"CUSTOM_PMEM_NAMESPACE_4GB": 1}, "consumers": ["c"], "why": "w"})
    assert firing(status) == {"PmemPlacementFailsafe"}


def test_the_evaluator_refuses_what_it_does_not_know_rather_than_passing_it():
    with pytest.raises(SyntaxError):
        promql.evaluate("rate(pmem_placement_errors_total[5m]) > 0", report.metrics_text(running()), NOW)
