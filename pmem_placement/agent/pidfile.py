"""One agent per state directory: an exclusive flock on ``<state_dir>/agent.pid``, held by the
agent's master process (and inherited by its worker) for as long as it runs.

It is not ``<state_dir>/lock``, which every reconcile takes, the one-shot's included: a one-shot
next to a running agent waits for the agent's reconcile, while a second agent is refused at once.
The lock is also how the commands know that an agent runs (``status_file.running``), and what the
agent writes in the file when it takes the lock, before its first cycle, and again after a reload,
says how it runs: its pid, [pmem]mode and whether its mapping is empty (``remove`` asks).
The file is opened as every file of the state directory is (``statedir``): never through a link.
"""

import errno
import fcntl
import os
import time

from oslo_config import cfg

from pmem_placement import errors
from pmem_placement import mapping
from pmem_placement import statedir
from pmem_placement import status_file
from pmem_placement.agent import locks

NAME = status_file.PID_FILE


class AlreadyRunning(errors.PmemPlacementError):
    """Another agent holds the state directory."""

    exit_status = 1


def acquire(state_dir: str) -> int:
    """Lock the state directory for this process; the descriptor returned holds the lock.
    ConfigError (StateDirError) when the directory or the file cannot be used or trusted."""
    fd = statedir.open_entry(state_dir, NAME, 0o644)
    try:
        _lock(fd)
    except BlockingIOError:
        # The kernel knows the holder even when it could not write its pid (a full disk);
        # the file's text is for people, and for systems without /proc/locks.
        pid: int | str | None = locks.holder(fd)
        if pid is None:
            try:
                text = os.read(fd, 32).decode(errors="replace").split("\n")[0].strip()
            except OSError:
                text = ""
            pid = text if text.isdigit() else None
        os.close(fd)
        raise AlreadyRunning(
            f"another pmem-placement-agent (pid {pid or 'unknown'}) already runs with [agent]state_dir "
            f"{state_dir}; stop it first, or give this one its own state_dir") from None
    return fd


def _lock(fd: int, tries: int = 20, pause: float = 0.05) -> None:
    """An exclusive flock, at once or within about a second: ``show``, ``check`` and ``remove``
    may hold a shared one for an instant to see whether an agent runs (``StateDir.holder``);
    a second agent holds its own for as long as it runs. BlockingIOError when it is held."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == tries - 1:
                raise
            time.sleep(pause)


def mapping_empty(conf: cfg.ConfigOpts) -> bool:
    """Whether [pmem]namespaces maps nothing (the agent then reports nothing, and removes the
    provider itself)."""
    try:
        return not mapping.parse(conf.pmem.namespaces or "")
    except errors.ConfigError:
        return False


def record(fd: int, path: str, conf: cfg.ConfigOpts) -> str | None:
    """Write this process's pid, [pmem]mode and whether the mapping is empty in the locked file;
    a reason when it cannot (the lock, which is what keeps a second agent out and tells the
    commands that an agent runs, is held all the same)."""
    data = status_file.pid_file_text(os.getpid(), conf.pmem.mode, mapping_empty(conf)).encode()
    try:
        if os.fstat(fd).st_size not in (0, len(data)):
            os.ftruncate(fd, len(data))  # an older agent's file: once
        written = os.pwrite(fd, data, 0)  # one write of the same length: no half-new file
        if written != len(data):
            raise OSError(errno.ENOSPC, f"wrote {written} of {len(data)} bytes")
        os.fsync(fd)
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}; the agent runs on, holding its lock"
    return None
