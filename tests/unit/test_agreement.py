"""The agent and the one-shot agree: configuration fingerprints, stale status, the lock's wait."""

import dataclasses

import pytest

from pmem_placement import fingerprint
from pmem_placement import status_file
from pmem_placement.errors import LockTimeout
from pmem_placement.state import StateStore
from tests import helpers

NOW = 1_800_000_000.0


HELD = status_file.Running(True, "/s/agent.pid", 1, "report", False)
GONE = status_file.Running(False, "/s/agent.pid")
UNKNOWN = status_file.Running(None, "/s/agent.pid", unknown="cannot look at /s/agent.pid: Permission denied")


def with_lock(status, lock):
    return {**status, "running": dataclasses.asdict(lock)}


@pytest.mark.parametrize("status, expected", [
    (None, None),
    (with_lock({"pid": 2, "config_fingerprint": "b"}, GONE), None),  # agent gone: nothing to disagree with
    (with_lock({"pid": 1, "config_fingerprint": None}, HELD), None),  # an agent from before fingerprints
    (with_lock({"pid": 1, "config_fingerprint": "a"}, HELD), None),
    (with_lock({"pid": 1, "config_fingerprint": "b"}, HELD), "reload the agent: systemctl reload pmem-placement-agent"),
    # whether it runs cannot be told: say it, as if it ran
    (with_lock({"pid": 1, "config_fingerprint": "b"}, UNKNOWN), "reload the agent"),
])
def test_disagreement(status, expected):
    message = fingerprint.disagreement("a", status)
    assert (message is None) if expected is None else (expected in message)


@pytest.mark.parametrize("status, stale, same", [
    # no agent holds the lock: stale, whatever process has the pid it recorded (a zombie, a reused pid)
    ({"pid": 2, "last_attempt": "2027-01-15T08:00:00+00:00"},
     "no agent is running (no process holds the lock on /s/agent.pid)", None),
    ({"pid": 1, "last_attempt": "2027-01-15T08:00:00+00:00", "config_fingerprint": "a"}, None, True),
    ({"pid": 1, "last_attempt": "2027-01-15T07:57:30+00:00", "config_fingerprint": "b"}, None, False),
    ({"pid": 1, "last_attempt": "2027-01-15T07:57:00+00:00"}, None, None),
    ({"pid": 1, "last_attempt": "2027-01-15T07:56:59+00:00"}, "no attempt in the last 180 s (3 x [agent]interval)",
     None),
    ({"pid": 1, "last_attempt": None}, "no attempt in the last 180 s (3 x [agent]interval)", None),
])
def test_with_freshness(status, stale, same):
    lock = HELD if status["pid"] == 1 else GONE
    result = status_file.with_freshness(status, 60, NOW, lock, "a")  # NOW is 2027-01-15T08:00:00Z
    assert (result["stale"], result["same_config"]) == (stale, same)
    assert result["running"] == dataclasses.asdict(lock)


@pytest.mark.parametrize("status, stale", [
    ({"pid": 1, "last_attempt": "2027-01-15T08:00:00+00:00"}, None),
    ({"pid": 1, "last_attempt": "2027-01-15T07:56:59+00:00"}, "no attempt in the last 180 s (3 x [agent]interval)"),
])
def test_when_whether_it_runs_cannot_be_told_its_schedule_alone_judges(status, stale):
    """A reader without the right to look (/proc/locks, the state directory) says unknown, not stale."""
    result = status_file.with_freshness(status, 60, NOW, UNKNOWN, "a")
    assert result["stale"] == stale
    assert result["running"]["held"] is None and "Permission denied" in result["running"]["unknown"]


@pytest.mark.parametrize("status, max_backoff, stale", [
    # backing off: the last attempt is old, the next one is not due yet
    ({"pid": 1, "last_attempt": "2027-01-15T07:50:00+00:00", "next_attempt": "2027-01-15T08:05:00+00:00"}, 600, None),
    # due, and a cycle may be running: up to 2 intervals late is fine
    ({"pid": 1, "last_attempt": "2027-01-15T07:50:00+00:00", "next_attempt": "2027-01-15T07:58:00+00:00"}, 600, None),
    ({"pid": 1, "last_attempt": "2027-01-15T07:50:00+00:00", "next_attempt": "2027-01-15T07:57:59+00:00"}, 600,
     "its next attempt was due at 2027-01-15T07:57:59+00:00, 121 s ago (more than 2 x [agent]interval)"),
    ({"pid": 2, "next_attempt": "2027-01-15T08:05:00+00:00"}, 600,
     "no agent is running (no process holds the lock on /s/agent.pid)"),
    # no next_attempt recorded: the longest wait the schedule allows, three times
    ({"pid": 1, "last_attempt": "2027-01-15T07:40:00+00:00"}, 600, None),
    ({"pid": 1, "last_attempt": "2027-01-15T07:29:59+00:00"}, 600, "no attempt in the last 1800 s (3 x [agent]max_backoff)"),
])
def test_with_freshness_follows_the_agents_schedule(status, max_backoff, stale):
    lock = HELD if status["pid"] == 1 else GONE
    assert status_file.with_freshness(status, 60, NOW, lock, "a", max_backoff)["stale"] == stale


def test_fingerprint_covers_host_and_pmem_but_not_placement():
    from oslo_config import cfg

    from pmem_placement import conf as conf_mod

    def make(host, namespaces, region=None):
        conf = cfg.ConfigOpts()
        conf_mod.register_opts(conf)
        conf([], default_config_files=[])
        conf.set_override("host", host)
        conf.set_override("namespaces", namespaces, "pmem")
        if region:
            conf.set_override("region_name", region, "placement")
        return fingerprint.of(conf)

    base = make("a", "A:ns_0")
    assert base == make("a", "A:ns_0")
    assert base != make("b", "A:ns_0")
    assert base != make("a", "A:ns_1")
    assert base == make("a", "A:ns_0", region="x")



def test_fingerprint_is_of_the_meaning_not_the_spelling():
    from oslo_config import cfg

    from pmem_placement import conf as conf_mod

    def make(namespaces, traits=None):
        conf = cfg.ConfigOpts()
        conf_mod.register_opts(conf)
        conf([], default_config_files=[])
        conf.set_override("host", "h")
        conf.set_override("namespaces", namespaces, "pmem")
        if traits is not None:
            conf.set_override("traits", traits, "pmem")
        return conf

    assert fingerprint.of(make(" 4GB:ns_0 | ns_1 ,SMALL:ns_2")) == fingerprint.of(make("SMALL:ns_2,4GB:ns_1|ns_0"))
    assert fingerprint.of(make("4GB:ns_0", ["CUSTOM_A", "CUSTOM_B"])) == fingerprint.of(make("4GB:ns_0", ["CUSTOM_B", "CUSTOM_A"]))
    assert fingerprint.of(make("4GB:ns_0")) != fingerprint.of(make("4GB:ns_1"))
    assert fingerprint.of(make("")) == fingerprint.of(make(" , ")) == fingerprint.of(make("4GB:ns_0"), nothing_mapped=True)
    assert fingerprint.of(make(None)) != fingerprint.of(make(""))


def test_the_lock_says_when_it_waits_and_times_out(tmp_path):
    waited = []
    store = StateStore(str(tmp_path), lock_timeout=0.2, on_wait=lambda: waited.append(True))
    with store.lock():
        assert waited == []  # free: no wait announced
    with helpers.held_lock(tmp_path):
        with pytest.raises(LockTimeout, match="still held by another pmem-placement"):
            with store.lock():
                pass
    assert waited == [True]
