"""The agent's loop, without Placement: nothing but stop ends it, and the watchdog is pinged from it."""

import threading

import pytest

from pmem_placement.agent import service as service_mod
from pmem_placement.agent.service import AgentService
from pmem_placement.agent.systemd import Notifier


class RecordingNotifier(Notifier):
    def __init__(self, watchdog_usec=0):
        super().__init__("unused", watchdog_usec)
        self.sent = []

    def notify(self, message):
        self.sent.append((message, threading.current_thread().name))


def test_a_loop_thread_that_ends_without_stop_makes_the_worker_exit_1():
    svc = AgentService(conf=None, notifier=RecordingNotifier())
    svc._loop = lambda: None  # the loop thread ends on its own, as after an unforeseen BaseException
    svc.start()
    with pytest.raises(SystemExit) as info:
        svc.wait()
    assert info.value.code == 1


def test_stop_ends_the_loop_and_wait_returns_normally():
    svc = AgentService(conf=None, notifier=RecordingNotifier())
    svc._loop = lambda: svc._stop.wait()
    svc.start()
    svc.stop()
    svc.wait()
    assert not svc._thread.is_alive()


def test_stop_waits_for_the_cycle_in_progress():
    entered, release = threading.Event(), threading.Event()
    finished = []

    def loop():
        entered.set()
        release.wait()  # a reconcile in progress
        finished.append(True)
    svc = AgentService(conf=None, notifier=RecordingNotifier())
    svc._loop = loop
    svc.start()
    entered.wait()
    stopper = threading.Thread(target=svc.stop)
    stopper.start()
    stopper.join(timeout=0.2)
    assert stopper.is_alive() and not finished  # stop() has not returned: the cycle goes on
    release.set()
    stopper.join()
    assert finished == [True]


def test_waiting_pings_the_watchdog_from_the_waiting_thread():
    notifier = RecordingNotifier(watchdog_usec=20_000)  # a ping every 10 ms
    svc = AgentService(conf=None, notifier=notifier)
    assert svc._wait(0.1) is False
    pings = [t for m, t in notifier.sent if m == "WATCHDOG=1"]
    assert len(pings) >= 2 and set(pings) == {threading.current_thread().name}
    svc._stop.set()
    assert svc._wait(10) is True


def test_without_a_watchdog_nothing_is_pinged():
    notifier = RecordingNotifier()
    AgentService(conf=None, notifier=notifier)._wait(0.01)
    assert notifier.sent == []


def test_notifier_takes_the_socket_out_of_the_environment(monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    monkeypatch.setenv("WATCHDOG_USEC", "300000000")
    notifier = Notifier.from_environment()
    import os

    assert "NOTIFY_SOCKET" not in os.environ  # the cotyledon master cannot say READY too early
    assert notifier.socket_path == "/run/systemd/notify" and notifier.watchdog_interval == 150


def test_describe_names_host_mapping_and_interval():
    class Conf:
        host = "cn1"

        class pmem:
            mode = "report"
            namespaces = "4GB:ns_0"
            traits = []
            nova_config = ["/etc/nova/nova.conf"]
            nova_config_dir: list[str] = []

        class agent:
            interval = 60
    assert service_mod.describe(Conf) == "host 'cn1', namespaces '4GB:ns_0', traits (none), every 60 s"
    Conf.pmem.mode = "audit"
    assert service_mod.describe(Conf) == "host 'cn1', mode audit of nova's configuration (/etc/nova/nova.conf), every 60 s"


def test_a_loop_that_ends_unexpectedly_is_remembered_for_the_master():
    svc = AgentService(conf=None, notifier=RecordingNotifier())
    svc._loop = lambda: None
    svc.start()
    with pytest.raises(SystemExit):
        svc.wait()
    assert svc.loop_failed.value == 1  # the master's exit status: 1


def test_the_watchdog_is_pinged_at_most_every_quarter_of_its_period():
    notifier = RecordingNotifier(watchdog_usec=400_000_000)  # WatchdogSec=400
    for _ in range(50):
        notifier.watchdog()  # before each of 50 requests
    assert [m for m, _ in notifier.sent] == ["WATCHDOG=1"]


def test_stopping_is_said_on_a_stop_but_not_on_the_stop_before_a_reload():
    svc = AgentService(conf=None, notifier=RecordingNotifier())
    svc.reloaded(True)  # the master, on SIGHUP
    svc.stop()  # the worker, stopped to be restarted
    assert [m.split("\n")[0] for m, _ in svc.notifier.sent] == ["RELOADING=1"]
    svc.reloading.value = 0  # the restarted worker runs
    svc.stop()
    assert svc.notifier.sent[-1][0] == "STOPPING=1"
