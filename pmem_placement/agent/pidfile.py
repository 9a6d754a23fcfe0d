"""One agent per state directory: an exclusive flock on ``<state_dir>/agent.pid``, held by the
agent's master process (and inherited by its worker) for as long as it runs.

It is not ``<state_dir>/lock``, which every reconcile takes, the one-shot's included: a one-shot
next to a running agent waits for the agent's reconcile, while a second agent is refused at once.
"""

import fcntl
import os

from pmem_placement import errors
from pmem_placement.agent import locks

NAME = "agent.pid"


class AlreadyRunning(errors.PmemPlacementError):
    """Another agent holds the state directory."""

    exit_status = 1


def acquire(state_dir: str) -> int:
    """Lock the state directory for this process; the descriptor returned holds the lock."""
    path = os.path.join(state_dir, NAME)
    try:
        os.makedirs(state_dir, mode=0o750, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise errors.ConfigError(
            f"[agent]state_dir: cannot use {state_dir}: {exc.strerror or exc} "
            "(run as the service's user, or point state_dir at a writable directory)") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        # The kernel knows the holder even when it could not write its pid (a full disk);
        # the file's text is for people, and for systems without /proc/locks.
        pid: int | str | None = locks.holder(fd)
        if pid is None:
            try:
                text = os.read(fd, 32).decode(errors="replace").strip()
            except OSError:
                text = ""
            pid = text if text.isdigit() else None
        os.close(fd)
        raise AlreadyRunning(
            f"another pmem-placement-agent (pid {pid or 'unknown'}) already runs with [agent]state_dir "
            f"{state_dir}; stop it first, or give this one its own state_dir") from None
    return fd


def write_pid(fd: int, path: str) -> str | None:
    """Record this process's pid in the locked file; a reason when it cannot (the lock, which is
    what keeps a second agent out, is held all the same)."""
    data = f"{os.getpid()}\n".encode()
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}; the agent runs on, holding its lock"
    return None
