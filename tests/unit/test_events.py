"""Events wake the agent: the kernel's uevents, inotify on the namespaces file, one wake per burst."""

import errno
import os
import select
import socket
import threading
import time

import pytest

from pmem_placement.agent import events
from pmem_placement.agent.service import AgentService
from tests.unit.test_agent_service import RecordingNotifier


@pytest.mark.parametrize("times, due", [
    ([], None),
    ([10.0], 11.0),                      # 1 s after the only event
    ([10.0, 10.5, 10.9], 11.9),          # 1 s after the last
    ([10.0, 10.9, 11.8, 12.7, 13.6, 14.5], 15.0),  # an endless burst: 5 s after the first at most
])
def test_a_burst_wakes_the_agent_once_one_second_after_its_last_event_and_at_most_five_after_its_first(times, due):
    burst = events.Burst()
    for t in times:
        burst.event(t)
    assert burst.due_at() == due
    burst.reset()
    assert burst.due_at() is None


def test_a_kernel_uevent_is_read_as_its_keys():
    data = (b"add@/devices/platform/ACPI0012:00/ndbus0/region0/namespace0.1\0ACTION=add\0"
            b"DEVPATH=/devices/platform/ACPI0012:00/ndbus0/region0/namespace0.1\0SUBSYSTEM=nd\0"
            b"DEVTYPE=nd_namespace_io\0SEQNUM=2415\0")
    assert events.parse_uevent(data)["SUBSYSTEM"] == "nd"
    assert events.parse_uevent(b"libudev\0\xfe\xed\xca\xfe") == {}


def _poll(source, timeout_ms=10_000):
    poller = select.poll()
    poller.register(source.fileno(), source.mask)
    return poller.poll(timeout_ms)


def test_uevents_of_the_subsystems_a_namespace_change_touches_are_heard_and_others_are_not():
    """The real kernel's uevents: root makes the kernel send one by writing 'change' to a device's
    uevent file (memory blocks are what daxctl's system-ram mode onlines)."""
    source = events.Uevents()
    try:
        with open("/sys/class/mem/null/uevent", "w") as f:  # subsystem mem: not ours
            f.write("change")
        assert _poll(source)
        assert source.read() is False
        with open("/sys/devices/system/memory/memory0/uevent", "w") as f:
            f.write("change")
        assert _poll(source)
        assert source.read() is True
    finally:
        source.close()


def test_the_namespaces_file_replaced_by_rename_or_rewritten_is_heard_and_its_neighbours_are_not(tmp_path):
    path = tmp_path / "ndctl.json"
    path.write_text("[]")
    watch = events.FileWatch(str(path))
    try:
        (tmp_path / "other.json").write_text("[]")
        assert _poll(watch)
        assert watch.read() is False
        (tmp_path / "ndctl.json.tmp").write_text("[1]")
        os.replace(tmp_path / "ndctl.json.tmp", path)  # as configuration management writes it
        assert _poll(watch)
        assert watch.read() is True
        path.write_text("[2]")
        assert _poll(watch)
        assert watch.read() is True
    finally:
        watch.close()


def test_a_listener_wakes_the_agent_after_a_burst(tmp_path):
    path = tmp_path / "ndctl.json"
    path.write_text("[]")
    woken = threading.Event()
    listener = events.Listener(events.open_sources("file", str(path)), woken.set)
    listener.start()
    try:
        for i in range(3):
            path.write_text(f"[{i}]")
        assert woken.wait(timeout=30)  # generous: 1 s after the last write on an idle machine
    finally:
        listener.stop()


def test_without_netlink_the_agent_is_told_why(monkeypatch):
    def refused(*args, **kwargs):
        raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
    monkeypatch.setattr(socket, "socket", refused)
    sources = events.open_sources("ndctl", None)
    assert not sources.available
    assert sources.describe() == "unavailable (netlink uevents: Address family not supported by protocol)"
    assert events.open_sources("file", None).describe() == "unavailable (no [pmem]namespaces_file)"


def test_a_wake_ends_the_wait_except_while_backing_off():
    svc = AgentService(conf=None, notifier=RecordingNotifier())
    svc._wakeup.set()
    assert svc._wait(60) is False  # woken at once
    assert not svc._wakeup.is_set()
    svc._wakeup.set()
    # Backing off: a wake is consumed, the wait runs its course (short here; a lower bound only).
    started = time.monotonic()
    assert svc._wait(0.2, wakeable=False) is False
    assert time.monotonic() - started >= 0.2
    threading.Timer(0.05, svc.stop).start()
    assert svc._wait(60, wakeable=False) is True  # a stop ends any wait


@pytest.mark.parametrize("failures, kind, wakeable", [
    (0, None, True),
    (2, "unavailable", False),         # Placement down: the backoff stands
    (1, "credentials_refused", False),
    (1, "config_error", True),         # a namespace withdrawn: the change may mend it
    (1, "discovery_error", True),
])
def test_only_failures_a_host_change_may_mend_let_events_cut_the_wait(failures, kind, wakeable):
    from pmem_placement.agent import service

    class Status:
        consecutive_failures = failures
        last_error = {"kind": kind, "message": "..."} if kind else None

    class Agent:
        status = Status()

    assert service._wakeable(Agent()) is wakeable


def test_a_listener_that_fails_says_why_and_never_takes_the_agent_down(tmp_path):
    class Broken(events.Source):
        def __init__(self):
            self.r, self.w = os.pipe()
            os.write(self.w, b"x")

        def fileno(self):
            return self.r

        def read(self):
            raise OSError(errno.EIO, "Input/output error")

        def close(self):
            os.close(self.r)
            os.close(self.w)

    said = []
    stopped = threading.Event()
    sources = events.Sources()
    sources.file = Broken()  # type: ignore[assignment]
    listener = events.Listener(sources, lambda: None, failed=lambda why: (said.append(why), stopped.set()))
    listener.start()
    assert stopped.wait(timeout=30)
    listener.stop()
    assert said == ["the listener stopped: [Errno 5] Input/output error"]


def _heard(watch, timeout_ms=10_000):
    """Whether the watch reads an event that concerns the file (events it does not care about are read too)."""
    heard = False
    while _poll(watch, timeout_ms):
        heard = watch.read() or heard
        timeout_ms = 200  # what else is already queued
    return heard


def test_the_watch_follows_a_directory_replaced_or_created_late(tmp_path):
    """Found by review: a directory swapped by rename, or missing at start, left the agent deaf
    while its status said it listened."""
    live = tmp_path / "nsdir"
    path = live / "ndctl.json"
    watch = events.FileWatch(str(path))  # the directory does not exist yet: its parent is watched
    try:
        live.mkdir()
        assert _heard(watch)
        path.write_text("[1]")
        assert _heard(watch)
        staged = tmp_path / "nsdir.new"
        staged.mkdir()
        (staged / "ndctl.json").write_text("[2]")
        live.rename(tmp_path / "nsdir.old")
        staged.rename(live)
        assert _heard(watch)
        path.write_text("[3]")  # the new directory is watched now
        assert _heard(watch)
        (tmp_path / "nsdir.old" / "ndctl.json").write_text("[old]")  # the old one is not
        assert not _heard(watch, 500)
    finally:
        watch.close()


def test_the_watch_follows_symbolic_links_as_configuration_management_swaps_them(tmp_path):
    for release in ("a", "b"):
        (tmp_path / "releases" / release).mkdir(parents=True)
        (tmp_path / "releases" / release / "ndctl.json").write_text(f"[{release!r}]")
    (tmp_path / "cm").mkdir()
    (tmp_path / "cm" / "current").symlink_to(tmp_path / "releases" / "a")
    watch = events.FileWatch(str(tmp_path / "cm" / "current" / "ndctl.json"))
    try:
        (tmp_path / "cm" / "tmp").symlink_to(tmp_path / "releases" / "b")
        os.replace(tmp_path / "cm" / "tmp", tmp_path / "cm" / "current")
        assert _heard(watch)
        (tmp_path / "releases" / "b" / "ndctl.json").write_text("[2]")  # the file it resolves to now
        assert _heard(watch)
    finally:
        watch.close()


def test_a_file_is_heard_when_its_writer_closes_it_not_while_it_writes(tmp_path):
    """Found by review: a slow writer's half-written file was read and failed discovery."""
    path = tmp_path / "ndctl.json"
    path.write_text("[]")
    watch = events.FileWatch(str(path))
    try:
        with open(path, "w") as f:
            f.write("[")
            f.flush()
            assert not _heard(watch, 500)
            f.write("]")
        assert _heard(watch)
    finally:
        watch.close()
