"""The agent and the one-shot agree: configuration fingerprints, stale status, the lock's wait."""

import pytest

from pmem_placement import fingerprint
from pmem_placement import status_file
from pmem_placement.errors import LockTimeout
from pmem_placement.state import StateStore
from tests import helpers

NOW = 1_800_000_000.0


def alive(pid):
    return pid == 1


@pytest.mark.parametrize("status, expected", [
    (None, None),
    ({"pid": 2, "config_fingerprint": "b"}, None),  # agent gone: nothing to disagree with
    ({"pid": 1, "config_fingerprint": None}, None),  # an agent from before fingerprints
    ({"pid": 1, "config_fingerprint": "a"}, None),
    ({"pid": 1, "config_fingerprint": "b"}, "reload the agent: systemctl reload pmem-placement-agent"),
])
def test_disagreement(status, expected):
    message = fingerprint.disagreement("a", status, alive)
    assert (message is None) if expected is None else (expected in message)


@pytest.mark.parametrize("status, stale, same", [
    ({"pid": 2, "last_attempt": "2027-01-15T08:00:00+00:00"}, "its process 2 is gone", None),
    ({"pid": 1, "last_attempt": "2027-01-15T08:00:00+00:00", "config_fingerprint": "a"}, None, True),
    ({"pid": 1, "last_attempt": "2027-01-15T07:57:30+00:00", "config_fingerprint": "b"}, None, False),
    ({"pid": 1, "last_attempt": "2027-01-15T07:57:00+00:00"}, None, None),
    ({"pid": 1, "last_attempt": "2027-01-15T07:56:59+00:00"}, "no attempt in the last 180 s (3 x [agent]interval)",
     None),
    ({"pid": 1, "last_attempt": None}, "no attempt in the last 180 s (3 x [agent]interval)", None),
])
def test_with_freshness(status, stale, same):
    result = status_file.with_freshness(status, 60, NOW, alive, "a")  # NOW is 2027-01-15T08:00:00Z
    assert (result["stale"], result["same_config"]) == (stale, same)


@pytest.mark.parametrize("status, max_backoff, stale", [
    # backing off: the last attempt is old, the next one is not due yet
    ({"pid": 1, "last_attempt": "2027-01-15T07:50:00+00:00", "next_attempt": "2027-01-15T08:05:00+00:00"}, 600, None),
    # due, and a cycle may be running: up to 2 intervals late is fine
    ({"pid": 1, "last_attempt": "2027-01-15T07:50:00+00:00", "next_attempt": "2027-01-15T07:58:00+00:00"}, 600, None),
    ({"pid": 1, "last_attempt": "2027-01-15T07:50:00+00:00", "next_attempt": "2027-01-15T07:57:59+00:00"}, 600,
     "its next attempt was due at 2027-01-15T07:57:59+00:00, 121 s ago (more than 2 x [agent]interval)"),
    ({"pid": 2, "next_attempt": "2027-01-15T08:05:00+00:00"}, 600, "its process 2 is gone"),
    # no next_attempt recorded: the longest wait the schedule allows, three times
    ({"pid": 1, "last_attempt": "2027-01-15T07:40:00+00:00"}, 600, None),
    ({"pid": 1, "last_attempt": "2027-01-15T07:29:59+00:00"}, 600, "no attempt in the last 1800 s (3 x [agent]max_backoff)"),
])
def test_with_freshness_follows_the_agents_schedule(status, max_backoff, stale):
    assert status_file.with_freshness(status, 60, NOW, alive, "a", max_backoff)["stale"] == stale


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
