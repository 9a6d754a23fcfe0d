"""`pmem-placement-agent` as systemd runs it: a real process, real signals, the real Placement."""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from tests import helpers
from tests.functional.agents import Running
from tests.functional.agents import wait_for
from tests.functional.conftest import requests_from_now

A4GB = "CUSTOM_PMEM_NAMESPACE_4GB"
SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"


@pytest.fixture
def agent(node):
    running = []

    def start(placement=None, env=None, prelude="", **agent_options):
        running.append(Running(node, placement, env, prelude, **agent_options))
        return running[-1]
    yield start
    for r in running:
        r.stop()



def test_converges_after_start_then_costs_one_request_per_cycle(node, admin, agent, placement):
    a = agent()
    status = a.wait_state("in_sync")
    assert admin.totals(admin.child_uuid(node.name)) == {A4GB: 1, SMALL: 2}
    # Steady state, counted at the server: exactly one request per cycle.
    since_start, start_cycles = requests_from_now(placement), a.status()["cycles"]
    status = a.wait_state("in_sync", after_cycle=start_cycles + 3)
    # Read both counts between two cycles: a cycle is ~ms long in a 1 s interval.
    cycles = status["cycles"] - start_cycles
    sent = since_start()
    # The status and the server's log cannot be read at the same instant: a cycle may straddle
    # either reading. Every request is the tree read, one per cycle.
    assert cycles <= len(sent) <= cycles + 2, (cycles, sent)
    assert set(sent) == {("GET", f"/resource_providers?in_tree={admin.root_uuid(node.name)}")}
    metrics = (node.dir / "agent.prom").read_text()
    assert 'pmem_placement_state{state="in_sync"} 1' in metrics
    [started] = [line for line in a.output().splitlines() if "pmem-placement-agent 0." in line]
    assert started.endswith(f"started with {node.config_file}: host {node.name!r}, namespaces "
                            "'4GB:ns_0,SMALL:ns_1|ns_2', traits (none), every 1 s; first reconcile in 0.0 s")



def test_a_namespace_change_is_picked_up_on_the_next_cycle(node, admin, agent):
    a = agent()
    a.wait_state("in_sync")
    child = admin.child_uuid(node.name)
    node.namespaces_file.write_text(helpers.nova_host(system_ram=["ns_2"]))
    status = a.wait_state("error")
    assert "'ns_2'" in status["last_error"]["message"] and "system-ram" in status["last_error"]["message"]
    assert admin.totals(child) == {A4GB: 1, SMALL: 2}  # a discovery problem never shrinks inventory
    node.namespaces_file.write_text(helpers.nova_host())
    a.wait_state("in_sync", after_cycle=status["cycles"])
    assert a.output().count("WARNING") == 1


def test_survives_placement_restart_on_the_same_port(node, admin, agent, placement):
    a = agent()
    a.wait_state("in_sync")
    placement.stop()
    try:
        status = a.wait_state("degraded")
        assert status["last_error"]["kind"] == "unavailable"
    finally:
        placement.start()
    child = admin.child_uuid(node.name)
    admin.edit_total(child, SMALL, 9)
    status = a.wait_state("in_sync", after_cycle=status["cycles"])
    wait_for(lambda: admin.totals(child) == {A4GB: 1, SMALL: 2}, what="repair after restart")
    assert a.proc.poll() is None


def test_sighup_applies_a_new_mapping_at_once(node, admin, agent):
    a = agent(interval=30)
    status = a.wait_state("in_sync")
    node.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
    node.write_config()
    a.signal(signal.SIGHUP)
    # Interval 30 s: only a reload, not the next cycle, can apply it within 25 s.
    wait_for(lambda: admin.totals(admin.child_uuid(node.name)) == {A4GB: 2, SMALL: 1}, timeout=25,
             what="mapping applied after SIGHUP")
    assert a.proc.poll() is None
    assert status  # the agent stayed up through the reload


def test_sigterm_stops_without_waiting_for_the_interval_with_status_0(node, agent):
    a = agent(interval=600)
    a.wait_state("in_sync")
    a.signal(signal.SIGTERM)
    # 60 s: far below the 600 s interval it must not wait out, and generous on a loaded machine.
    assert a.proc.wait(timeout=60) == 0


def test_agent_survives_a_placement_that_never_answers(node, admin, agent, proxy):
    proxy.set("blackhole")
    a = agent(max_backoff=1, placement={"endpoint": proxy.url, "timeout": 1})
    status = a.wait_state("degraded")
    assert status["last_error"]["kind"] == "unavailable"
    proxy.set("forward")
    a.wait_state("in_sync", after_cycle=status["cycles"])
    assert admin.totals(admin.child_uuid(node.name)) == {A4GB: 1, SMALL: 2}
    assert a.proc.poll() is None
    assert a.output().count("WARNING") == 1


def test_agent_rides_out_503_storms(node, admin, agent, faults):
    faults.inject(6, 503)
    a = agent()
    a.wait_state("in_sync")
    assert admin.totals(admin.child_uuid(node.name)) == {A4GB: 1, SMALL: 2}


def _worker_pid(master):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                return int(entry)
    return None


def test_a_bad_reload_keeps_the_last_good_configuration_then_a_good_one_applies(node, admin, agent):
    a = agent(interval=30)
    a.wait_state("in_sync")
    child = admin.child_uuid(node.name)
    # A new mapping and an invalid interval in the same file: nothing of it may apply.
    node.configure(agent={"interval": 0}, pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
    node.write_config()
    a.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in a.output(), what="the refused reload logged")
    time.sleep(1.5)
    worker = _worker_pid(a.proc.pid)
    time.sleep(1.5)
    assert worker is not None and _worker_pid(a.proc.pid) == worker  # no respawn loop
    out = a.output()
    assert "Traceback" not in out
    [refused] = [line for line in out.splitlines() if "reload refused" in line]
    assert refused.endswith(f"reload refused, keeping the last good configuration: [agent]interval = '0' in "
                            f"{node.config_file} is not valid: Should be greater than or equal to 1")
    assert admin.totals(child) == {A4GB: 1, SMALL: 2}  # the last good mapping, still applied
    assert "every 30 s" in out.splitlines()[-1]
    node.configure(agent={"interval": 30})
    node.write_config()
    a.signal(signal.SIGHUP)
    wait_for(lambda: admin.totals(child) == {A4GB: 2, SMALL: 1}, timeout=25,  # within the 30 s interval
             what="the fixed configuration applied")
    assert "namespaces '4GB:ns_0|ns_1,SMALL:ns_2'" in a.output().splitlines()[-1] or \
        "namespaces '4GB:ns_0|ns_1,SMALL:ns_2'" in a.output()
    assert a.proc.poll() is None


def test_a_backing_off_agent_records_its_next_attempt_and_is_not_stale(node, agent):
    """After failures the agent waits longer than its interval: `show` must judge it by its own
    schedule, not call it stale."""
    from datetime import datetime

    a = agent(max_backoff=8, placement={"endpoint": "http://127.0.0.1:9"})
    status = wait_for(lambda: (s := a.status()) and s["consecutive_failures"] >= 3 and s.get("next_attempt")
                      and s, what=f"three failures; log:\n{a.output()}")
    last = datetime.fromisoformat(status["last_attempt"]).timestamp()
    due = datetime.fromisoformat(status["next_attempt"]).timestamp()
    assert due - last >= 2  # backing off: more than the 1 s interval
    data = json.loads(node.run("show", "--format", "json").out)
    assert data["agent"]["pid"] == _worker_pid(a.proc.pid)
    assert data["agent"]["stale"] is None, data["agent"]


def test_a_metrics_file_that_cannot_be_written_is_an_error_not_the_end_of_the_loop(node, agent):
    missing = node.dir / "no-such-dir" / "agent.prom"
    a = agent(metrics_file=str(missing))
    status = a.wait_state("error")
    assert status["last_error"]["kind"] == "metrics_file_not_writable"
    assert str(missing) in status["last_error"]["message"] and "No such file" in status["last_error"]["message"]
    later = a.wait_state("error", after_cycle=status["cycles"] + 2)  # the loop goes on
    assert later["last_error"]["since"] == status["last_error"]["since"]  # since it started
    assert a.proc.poll() is None
    out = a.output()
    assert out.count("WARNING") == 1 and "Traceback" not in out
    missing.parent.mkdir()
    a.wait_state("in_sync", after_cycle=status["cycles"] + 2)
    assert 'pmem_placement_state{state="in_sync"} 1' in missing.read_text()


def test_sigterm_in_the_middle_of_a_slow_first_sync_lets_it_finish(node, admin, agent, faults):
    faults.inject(50, 1.2)  # a Placement that takes over a second per request
    a = agent()

    def terminate(count):
        if count == 1:
            a.signal(signal.SIGTERM)  # right after the first write
    faults.after_write = terminate
    assert a.proc.wait(timeout=60) == 0, a.output()
    child = admin.child_uuid(node.name)
    assert admin.totals(child) == {A4GB: 1, SMALL: 2}
    assert "CUSTOM_PMEM_PLACEMENT_MANAGED" in admin.traits(child)


def test_sighup_in_the_middle_of_a_slow_first_sync_lets_it_finish_then_reloads(node, admin, agent, faults):
    faults.inject(9, 1.2)  # the first sync's requests each take over a second
    a = agent(interval=30)

    def reload(count):
        if count == 1:
            node.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
            node.write_config()
            a.signal(signal.SIGHUP)  # right after the first write
    faults.after_write = reload
    # Interval 30 s: the new mapping can only come from the worker restarted by the reload,
    # after the first sync finished (a blank provider would have no managed trait).
    wait_for(lambda: admin.provider(admin.child_uuid(node.name)) and
             admin.totals(admin.child_uuid(node.name)) == {A4GB: 2, SMALL: 1}, timeout=60,
             what=f"the reloaded mapping applied; log:\n{a.output()}")
    assert "CUSTOM_PMEM_PLACEMENT_MANAGED" in admin.traits(admin.child_uuid(node.name))
    assert a.proc.poll() is None
    out = a.output()
    assert "Traceback" not in out and "+ inventory" in out.split("reloaded from")[0]


def test_a_second_agent_on_the_same_state_dir_is_refused_at_once(node, agent):
    first = agent()
    first.wait_state("in_sync")
    second = agent()
    assert second.proc.wait(timeout=20) == 1
    out = second.output()
    assert out == (f"pmem-placement-agent: error: another pmem-placement-agent (pid {first.proc.pid}) already "
                   f"runs with [agent]state_dir {node.dir / 'state'}; stop it first, or give this one its "
                   "own state_dir\n")
    status = first.wait_state("in_sync", after_cycle=first.status()["cycles"] + 1)
    assert status["pid"] != second.proc.pid and first.proc.poll() is None


def test_one_shot_runs_beside_a_running_agent(node, agent):
    a = agent()
    a.wait_state("in_sync")
    assert node.run("reconcile").status == 0


def _receive(sock):
    """One notification and the pid that sent it (SO_PASSCRED), as systemd sees them."""
    data, ancillary, _, _ = sock.recvmsg(256, socket.CMSG_SPACE(struct.calcsize("iII")))
    pid = next(struct.unpack("iII", d)[0] for level, kind, d in ancillary
               if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS)
    return data, pid


@pytest.fixture
def notify_socket(tmp_path):
    """systemd's notification socket for the agent: (its path, the socket, 30 s timeout)."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(path)
    sock.settimeout(30)
    yield path, sock
    sock.close()


def test_systemd_hears_ready_from_the_running_worker_then_watchdog_pings(node, agent, notify_socket):
    path, sock = notify_socket
    sock.settimeout(20)
    a = agent(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}, interval=3)
    messages = []
    while [m for m, _ in messages].count(b"WATCHDOG=1") < 4:
        messages.append(_receive(sock))
    # One READY, sent by the worker once it runs: the master (cotyledon) said nothing at start-up.
    worker = _worker_pid(a.proc.pid)
    assert messages[0] == (b"READY=1", worker), (messages, a.proc.pid)
    assert [m for m, _ in messages].count(b"READY=1") == 1
    assert {pid for _, pid in messages} == {worker}  # the watchdog is pinged by the worker's loop
    a.wait_state("in_sync")
    a.signal(signal.SIGTERM)
    while _receive(sock)[0] != b"STOPPING=1":
        pass
    assert a.proc.wait(timeout=20) == 0


def _until(sock, wanted):
    """Notifications (without watchdog pings) up to the first that starts with ``wanted``."""
    seen = []
    while True:
        data, pid = _receive(sock)
        if data != b"WATCHDOG=1":
            seen.append((data, pid))
        if data.startswith(wanted):
            return seen


def test_a_reload_says_reloading_then_ready_and_never_stopping(node, admin, agent, notify_socket):
    # systemd takes STOPPING=1 from a running or reloading unit as the start of a stop (then
    # SIGKILL after TimeoutStopSec): a reload, accepted or refused, must never send it.
    path, sock = notify_socket
    a = agent(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}, interval=30)
    assert [m for m, _ in _until(sock, b"READY=1")] == [b"READY=1"]
    a.wait_state("in_sync")
    node.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
    node.write_config()
    a.signal(signal.SIGHUP)
    [(reloading, sender), (ready, worker)] = _until(sock, b"READY=1")
    assert reloading.startswith(b"RELOADING=1\nMONOTONIC_USEC=") and sender == a.proc.pid  # the master
    assert ready == b"READY=1" and worker == _worker_pid(a.proc.pid)
    wait_for(lambda: admin.totals(admin.child_uuid(node.name)) == {A4GB: 2, SMALL: 1}, what="reloaded mapping")
    node.configure(agent={"interval": 0})  # refused: the same two messages, nothing else
    node.write_config()
    a.signal(signal.SIGHUP)
    assert [m.split(b"\n")[0] for m, _ in _until(sock, b"READY=1")] == [b"RELOADING=1", b"READY=1"]
    assert "still running with the last good configuration" in a.output().splitlines()[-1]
    a.signal(signal.SIGTERM)  # a real stop: now STOPPING=1
    assert [m for m, _ in _until(sock, b"STOPPING=1")] == [b"STOPPING=1"]
    assert a.proc.wait(timeout=20) == 0


def test_a_reload_with_an_invalid_placement_value_keeps_the_last_good_configuration(node, admin, agent):
    a = agent(interval=1)
    status = a.wait_state("in_sync")
    node.configure(placement={"timeout": "abc"}, pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})
    node.write_config()
    a.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in a.output(), what="the refused reload logged")
    status = a.wait_state("in_sync", after_cycle=a.status()["cycles"] + 2)  # cycles go on, in sync
    out = a.output()
    assert "Traceback" not in out and "ERROR" in out
    [refused] = [line for line in out.splitlines() if "ERROR" in line]
    assert refused.endswith(f"reload refused, keeping the last good configuration: [placement]timeout = 'abc' in "
                            f"{node.config_file} is not valid: could not convert string to float: 'abc'")
    assert admin.totals(admin.child_uuid(node.name)) == {A4GB: 1, SMALL: 2}
    assert status["last_error"] is None and a.proc.poll() is None


def test_a_one_shot_holding_the_lock_is_waited_for_one_interval_with_watchdog_pings(
        node, admin, agent, notify_socket):
    import threading

    path, sock = notify_socket
    heard, done = [], threading.Event()

    def listen():
        sock.settimeout(0.2)
        while not done.is_set():
            try:
                heard.append(_receive(sock)[0])
            except TimeoutError:
                pass
    listener = threading.Thread(target=listen)
    listener.start()
    state = node.dir / "state"
    try:
        with helpers.held_lock(state):  # a one-shot stopped with Ctrl-Z in the middle of its run
            a = agent(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}, interval=3, max_backoff=3)
            status = a.wait_state("degraded")
            # The first reconcile starts at once and waits for the lock for one interval (3 s), three
            # times WatchdogSec: the loop pinged the watchdog all along.
            pings_while_waiting = heard.count(b"WATCHDOG=1")
            assert status["last_error"]["kind"] == "lock_busy"
            assert status["last_error"]["message"] == (
                f"[agent]state_dir: {state / 'lock'} is held by pid {os.getpid()} (a pmem-placement "
                "reconcile?) for over 3 s; trying again at the next cycle")
            assert heard[0] == b"READY=1" and pings_while_waiting >= 3, heard
            assert a.proc.poll() is None and a.output().count("WARNING") == 1
        a.wait_state("in_sync", after_cycle=status["cycles"])
    finally:
        done.set()
        listener.join()
    assert admin.totals(admin.child_uuid(node.name)) == {A4GB: 1, SMALL: 2}


def test_sigterm_while_waiting_for_the_lock_stops_at_once(node, agent):
    with helpers.held_lock(node.dir / "state"):
        a = agent(interval=600, initial_jitter=0)
        wait_for(lambda: a.output().count("pmem-placement-agent 0.") == 1, what="the agent started")
        time.sleep(1)  # in the wait for the lock
        a.signal(signal.SIGTERM)
        assert a.proc.wait(timeout=30) == 0  # well before graceful_shutdown_timeout (60 s)


def test_a_loop_that_ends_unexpectedly_ends_the_whole_service_with_status_1(node):
    # A bug that ends the loop thread, simulated in the agent's own process: the worker must not
    # be respawned again and again behind systemd's back; the service exits 1 and systemd restarts it.
    node.configure(agent={"interval": 1, "initial_jitter": 0})
    node.write_config()
    bug = ("import sys; from pmem_placement.agent import service; service.AgentService._loop = lambda self: None; "
           "from pmem_placement.cmd.agent import main; sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", bug, "--config-file", str(node.config_file)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          start_new_session=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("the agent's loop ended unexpectedly; the agent exits with status 1") == 1
    assert proc.stdout.count("Child ") <= 1  # no respawn
