"""One agent per state directory: an exclusive flock on ``<state_dir>/agent.pid``, held by the
agent's master process (and inherited by its worker) for as long as it runs.

It is not ``<state_dir>/lock``, which every reconcile takes, the one-shot's included: a one-shot
next to a running agent waits for the agent's reconcile, while a second agent is refused at once.
"""

import fcntl
import os

from pmem_placement import errors

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
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise AlreadyRunning(
            f"another pmem-placement-agent (pid {holder}) already runs with [agent]state_dir "
            f"{state_dir}; stop it first, or give this one its own state_dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
