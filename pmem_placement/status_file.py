"""The one reader of the agent's status file: where it is, what it says, how old it is, and
whether an agent runs at all.

``agent/report.py`` writes the file. Every command that looks at the agent (``reconcile``,
``show``, ``check``, ``remove``, audit mode's ``show``) reads it through ``load``, which tells
"there is none" from "it cannot be read" (a file cut short or edited by hand is not an agent
that never ran) and ages it (``with_freshness``).

Whether an agent runs is the kernel's answer, not a pid number in the status: the running agent
holds an flock on ``<state_dir>/agent.pid`` for its whole life (``agent/pidfile.py``), and
``running`` finds the holder in /proc/locks, and what the agent wrote in that file when it took the
lock (its pid, [pmem]mode, whether its mapping is empty), before its first cycle.
"""

import dataclasses
import datetime
import json
import os
import time
import typing

from oslo_config import cfg

from pmem_placement import fingerprint
from pmem_placement import statedir

PID_FILE = "agent.pid"


def path(agent_conf: typing.Any) -> str | None:
    """[agent]status_file, by default status.json in [agent]state_dir."""
    if agent_conf.status_file:
        return str(agent_conf.status_file)
    if agent_conf.state_dir:
        return os.path.join(agent_conf.state_dir, "status.json")
    return None


@dataclasses.dataclass(frozen=True)
class AgentStatus:
    path: str | None
    status: dict[str, typing.Any] | None
    """As ``with_freshness`` returns it; None when there is none, or it cannot be read."""
    unreadable: str | None = None
    """Why the file that is there cannot be used."""
    running: "Running" = dataclasses.field(default_factory=lambda: Running(None, unknown="not looked at"))
    """Whether an agent holds the state directory."""

    def shown(self) -> dict[str, typing.Any] | None:
        """What ``show`` prints of it: the status, or why it cannot be read."""
        if self.unreadable:
            return {"unreadable": self.unreadable, "stale": self.unreadable, "same_config": None,
                    "running": dataclasses.asdict(self.running)}
        return self.status


def load(conf: cfg.ConfigOpts, now: float | None = None, nothing_mapped: bool = False) -> AgentStatus:
    """The agent's status, aged at ``now`` and compared with this configuration (as if
    [pmem]namespaces were empty with ``nothing_mapped``, as ``remove`` asks)."""
    where = path(conf.agent)
    state_dir = conf.agent.state_dir or None
    status, unreadable = read(where, state_dir) if where else (None, None)
    agent = running(state_dir)
    if status is not None:
        status = with_freshness(status, conf.agent.interval, time.time() if now is None else now,
                                agent, fingerprint.of(conf, nothing_mapped=nothing_mapped),
                                conf.agent.max_backoff)
    return AgentStatus(where, status, unreadable, agent)


def read(path: str, state_dir: str | None = None) -> tuple[dict[str, typing.Any] | None, str | None]:
    """(status, None) when it is usable; (None, None) when there is no file; (None, why) when
    it is there but cannot be read (or, in ``state_dir``, trusted) or is not a status."""
    name = statedir.entry_of(state_dir, path)
    try:
        if state_dir and name:
            text = statedir.read_entry(state_dir, name)
            if text is None:
                return None, None
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except FileNotFoundError:
        return None, None
    except (OSError, statedir.StateDirError) as exc:
        return None, f"the agent's status file {path} cannot be read: {statedir.reason(exc)}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"the agent's status file {path} is corrupt (not JSON: {exc})"
    if not isinstance(data, dict):
        return None, f"the agent's status file {path} is corrupt (not a JSON object)"
    return data, None


def with_freshness(status: dict[str, typing.Any], interval: int, now: float,
                   agent: "Running", config_fingerprint: str,
                   max_backoff: float = 0) -> dict[str, typing.Any]:
    """The agent's status plus ``stale`` (why it no longer describes a running agent, or None),
    ``same_config`` (whether it ran with these files' configuration; None when unknown) and
    ``running`` (``agent``, the lock's answer, as a dict).

    No agent holding the state directory's lock: stale, whatever process has the status's pid
    now. Otherwise (or when that cannot be told) the agent's own schedule judges: it records
    when it runs the next cycle (the interval, or a backoff after failures), and it is stale when
    that time is more than two intervals past (a cycle in progress, bounded by the request
    timeouts, fits). A status without ``next_attempt`` is stale when its last attempt is older
    than three times the longest wait (interval or max_backoff)."""
    stale = None
    if status.get("state") == "stopped" and agent.held is not True:
        stale = "the agent was stopped"
    elif agent.held is False:
        stale = f"no agent is running (no process holds the lock on {agent.path or PID_FILE})"
    else:
        due = _timestamp(status.get("next_attempt"))
        if due is not None:
            if now - due > 2 * interval:
                stale = (f"its next attempt was due at {status['next_attempt']}, {now - due:.0f} s ago "
                         "(more than 2 x [agent]interval)")
        else:
            last = _timestamp(status.get("last_attempt"))
            longest, option = (interval, "interval") if interval >= max_backoff else (max_backoff, "max_backoff")
            if last is None or now - last > 3 * longest:
                stale = f"no attempt in the last {3 * longest:g} s (3 x [agent]{option})"
    theirs = status.get("config_fingerprint")
    same = None if not theirs else theirs == config_fingerprint
    return {**status, "stale": stale, "same_config": same, "running": dataclasses.asdict(agent)}


def remembered(path: str | None, state_dir: str | None, host: str) -> dict[str, typing.Any]:
    """What the agent's previous status file says it knew that a new worker (after a reload, a
    restart) should not forget: ``last_success``, ``used`` and ``used_at`` (timestamps), for the
    same host; empty when there is none or it cannot be read."""
    status, _ = read(path, state_dir) if path else (None, None)
    if not status or status.get("host") != host:
        return {}
    used = status.get("used")
    return {"last_success": _timestamp(status.get("last_success")),
            "used": dict(used) if isinstance(used, dict) else None,
            "used_at": _timestamp(status.get("used_at"))}


def _timestamp(value: typing.Any) -> float | None:
    try:
        return datetime.datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class Running:
    """Whether an agent holds ``<state_dir>/agent.pid``, as the kernel's lock table says."""

    held: bool | None
    """None: it cannot be told (no state_dir, no right to look)."""
    path: str | None = None
    pid: int | None = None
    """The process holding the lock (the agent's master)."""
    mode: str | None = None
    """[pmem]mode as the agent wrote it when it took the lock; None when it did not say."""
    mapping_empty: bool | None = None
    """Whether its [pmem]namespaces is empty; None when it did not say."""
    unknown: str | None = None
    """Why it cannot be told."""


PID_FILE_SIZE = 64
"""The pid file is always this long (padded with new lines): rewritten in place (its inode holds
the agent's lock), by one write of the same length, it is never half old, half new."""


def pid_file_text(pid: int, mode: str, mapping_empty: bool) -> str:
    """What the agent writes in its pid file: its pid first (for people), then how it runs."""
    text = f"{pid}\nmode={mode}\nmapping={'empty' if mapping_empty else 'not-empty'}\n"
    return text.ljust(PID_FILE_SIZE, "\n")


def parse_pid_file(text: str) -> tuple[str | None, bool | None]:
    """(mode, mapping_empty) from ``pid_file_text``; None for what it does not say."""
    fields = dict(line.partition("=")[::2] for line in text.splitlines()[1:])
    mode = fields.get("mode") if fields.get("mode") in ("report", "audit") else None
    mapping = {"empty": True, "not-empty": False}.get(fields.get("mapping", ""))
    return mode, mapping


def running(state_dir: str | None) -> Running:
    """Whether an agent holds ``state_dir``: its pid file stat'ed (no link followed, never
    opened for a lock) and looked up in /proc/locks; then what it wrote there."""
    if not state_dir:
        return Running(None, unknown="[agent]state_dir is not set: the agent holds no lock to look at")
    where = os.path.join(state_dir, PID_FILE)
    try:
        with statedir.opened(state_dir) as directory:
            pid = directory.holder(PID_FILE)
            if pid is None:
                return Running(False, where)
            try:
                text = directory.read(PID_FILE) or ""
            except statedir.StateDirError:
                text = ""  # held all the same; how it runs is not known
    except (OSError, statedir.StateDirError) as exc:
        if isinstance(exc, FileNotFoundError) and exc.filename != statedir.LOCKS:
            return Running(False, where)  # no state directory: no agent ever ran with it
        return Running(None, where, unknown=f"cannot look at {where}: {statedir.reason(exc)}")
    return Running(True, where, pid, *parse_pid_file(text))
