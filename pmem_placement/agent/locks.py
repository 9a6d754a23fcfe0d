"""Waiting for a lock the way the agent must: bounded, pinging systemd's watchdog, honouring a
stop; and naming the process that holds a lock (from /proc/locks, which the kernel keeps true
even when the holder could not write its pid anywhere)."""

import fcntl
import os
import threading
import time
import typing

from pmem_placement import errors
from pmem_placement import statedir

POLL = 0.2
"""Seconds between two attempts: a one-shot's reconcile takes well under a second."""


class LockBusy(errors.SyncError):
    """Another process (a one-shot reconcile) held the state directory's lock for too long."""


def holder(fd: int, locks: str = statedir.LOCKS) -> int | None:
    """The pid of the process holding an flock on the file open as ``fd``, if the kernel says."""
    try:
        return statedir.locked_by(os.fstat(fd), locks)
    except OSError:
        return None


def acquire(fd: int, path: str, bound: float, ping: typing.Callable[[], None] | None = None,
            stopping: threading.Event | None = None) -> None:
    """An exclusive flock on ``fd`` within ``bound`` seconds, or LockBusy naming the holder."""
    deadline = time.monotonic() + bound
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if ping is not None:
            ping()
        stop = stopping is not None and stopping.is_set()
        if stop or time.monotonic() >= deadline:
            pid = holder(fd)
            who = f"pid {pid}" if pid else "another process"
            raise LockBusy(f"[agent]state_dir: {path} is held by {who} (a pmem-placement reconcile?) "
                           f"{'when the agent stopped' if stop else f'for over {bound:g} s'}; trying again at the next cycle")
        if stopping is not None:
            stopping.wait(POLL)
        else:
            time.sleep(POLL)
