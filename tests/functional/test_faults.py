"""Placement faults: transient ones (a restart: refused connections, 502/503/504) are ridden out
by keystoneauth's retries, on by default; lasting ones make the one-shot exit 1 within a bounded
time with one readable line, and nothing is written half-way that a rerun cannot finish."""

import threading
import time

import pytest

from pmem_placement.desired import identity
from tests.functional.conftest import one_line
from tests.functional.faults import Applied

A4GB = "CUSTOM_PMEM_NAMESPACE_4GB"
SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"


def failed_through(proxy, node, mode, **placement):
    """A reconcile through ``proxy`` in ``mode`` (with these [placement] options): it must exit 1
    with one line, within 10 s. Its Result."""
    proxy.set(mode)
    node.configure(placement={"endpoint": proxy.url, **placement})
    started = time.monotonic()
    result = node.run("reconcile")
    seconds = time.monotonic() - started
    assert result.status == 1
    one_line(result)
    assert seconds < 10
    return result


def test_two_503s_then_success_exit_0_with_the_default_retries(node, admin, faults):
    faults.inject(2, 503)
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert result.err == ""  # retries are silent without --debug
    assert len(result.requests) == 9 + 2  # the first sync plus keystoneauth's two retries
    assert admin.totals(identity(admin.root_uuid(node.name), node.name).uuid) == {A4GB: 1, SMALL: 2}


@pytest.mark.parametrize("method, path_end", [("POST", "/resource_providers"), ("PUT", "/traits"),
                                              ("PUT", "/inventories")])
def test_a_retried_write_that_placement_had_applied_is_a_conflict_that_re_reads(node, admin, faults, method,
                                                                                path_end):
    # The write is applied, its answer lost (502), and keystoneauth sends it again: the replay
    # carries a generation (or a uuid) that is no longer current, which is a conflict, which re-reads.
    faults.inject(1, Applied(502), method=method, path_end=path_end)
    result = node.run("reconcile")
    assert result.status == 0, result.err
    root = admin.root_uuid(node.name)
    assert [rp["name"] for rp in admin.tree(root)] == [node.name, f"{node.name}:pmem"]
    assert admin.totals(identity(root, node.name).uuid) == {A4GB: 1, SMALL: 2}
    replayed = [r for r in result.requests if r[0] == method and r[1].endswith(path_end)]
    assert len(replayed) == 2 and replayed[0] == replayed[1]  # the same write, sent twice


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried_by_default(node, faults, status):
    faults.inject(1, status)
    result = node.run("reconcile")
    assert result.status == 0, result.err


def test_debug_shows_each_retry(node, faults):
    faults.inject(2, 503)
    result = node.run("--debug", "reconcile")
    assert result.status == 0, result.err
    assert result.err.count("Retriable status code 503. Retrying in") == 2


def test_lasting_503s_exit_1_with_one_line(node, faults):
    faults.inject(3, 503)
    node.configure(placement={"status_code_retries": 2, "status_code_retry_delay": 0.01})
    result = node.run("reconcile")
    assert result.status == 1
    one_line(result)
    assert "answered GET /resource_providers?name=" in result.err and "with 503" in result.err
    assert len(result.requests) == 3  # keystoneauth's retries, none of ours on top


def test_keystoneauth_status_code_retries_are_honoured(node, admin, faults):
    faults.inject(2, 503)
    node.configure(placement={"status_code_retries": 3, "status_code_retry_delay": 0.01})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert len(result.requests) == 9 + 2  # the first sync plus keystoneauth's two retries
    assert admin.totals(identity(admin.root_uuid(node.name), node.name).uuid) == {A4GB: 1, SMALL: 2}


def test_a_503_in_the_middle_of_the_first_sync_then_a_rerun(node, admin, faults):
    faults.inject(1, 503, method="POST")
    node.configure(placement={"status_code_retries": 0})
    result = node.run("reconcile")
    assert result.status == 1
    one_line(result)
    result = node.run("reconcile")
    assert result.status == 0, result.err
    assert len(admin.tree(admin.root_uuid(node.name))) == 2


def test_connection_refused_exits_1_quickly_after_keystoneauth_retries(node, proxy):
    result = failed_through(proxy, node, "refuse", connect_retries=2, connect_retry_delay=0.1)
    assert result.err.endswith(": Connection refused\n")


def test_placement_that_never_answers_times_out(node, proxy):
    result = failed_through(proxy, node, "blackhole", timeout=1, connect_retries=0)
    assert "timed out" in result.err or "no answer" in result.err


def test_slow_placement_within_the_timeout_is_waited_for(node, admin, faults):
    faults.inject(2, 0.4)
    node.configure(placement={"timeout": 5})
    result = node.run("reconcile")
    assert result.status == 0, result.err


def restart_after_write(faults, placement, write_number, down_for=0.3):
    """Restart Placement right after its nth write; the event is set once it serves again."""
    restarted = threading.Event()

    def restart(count):
        if count == write_number:
            def bounce():
                placement.stop()
                time.sleep(down_for)
                placement.start()
                restarted.set()
            threading.Thread(target=bounce, daemon=True).start()
    faults.after_write = restart
    return restarted


@pytest.mark.parametrize("write_number", [1, 3, 4, 5])
def test_placement_restarted_mid_reconcile(node, admin, faults, placement, write_number):
    restarted = restart_after_write(faults, placement, write_number)
    node.configure(placement={"connect_retries": 0})
    first = node.run("reconcile")
    if first.status != 0:  # the restart cut the run short: one line, and a rerun finishes
        assert first.status == 1
        one_line(first)
    assert restarted.wait(timeout=60)  # it is down for seconds; 60 s is generous under load
    faults.after_write = None
    second = node.run("reconcile")
    assert second.status == 0, second.err
    root = admin.root_uuid(node.name)
    assert [rp["name"] for rp in admin.tree(root)] == [node.name, f"{node.name}:pmem"]
    assert admin.totals(identity(root, node.name).uuid) == {A4GB: 1, SMALL: 2}


def test_a_placement_restart_of_a_few_seconds_is_ridden_out_by_default(node, admin, faults, placement):
    restarted = restart_after_write(faults, placement, 2, down_for=2.0)
    result = node.run("reconcile")
    assert restarted.wait(timeout=60)  # it is down for seconds; 60 s is generous under load
    assert result.status == 0, result.err
    assert admin.totals(identity(admin.root_uuid(node.name), node.name).uuid) == {A4GB: 1, SMALL: 2}
