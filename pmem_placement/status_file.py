"""The one reader of the agent's status file: where it is, what it says, and how old it is.

``agent/report.py`` writes the file. Every command that looks at the agent (``reconcile``,
``show``, ``check``, ``remove``, audit mode's ``show``) reads it through ``load``, which tells
"there is none" from "it cannot be read" (a file cut short or edited by hand is not an agent
that never ran) and ages it (``with_freshness``).
"""

import dataclasses
import datetime
import json
import os
import time
import typing

from oslo_config import cfg

from pmem_placement import fingerprint


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

    def shown(self) -> dict[str, typing.Any] | None:
        """What ``show`` prints of it: the status, or why it cannot be read."""
        if self.unreadable:
            return {"unreadable": self.unreadable, "stale": self.unreadable, "same_config": None}
        return self.status


def load(conf: cfg.ConfigOpts, now: float | None = None, nothing_mapped: bool = False) -> AgentStatus:
    """The agent's status, aged at ``now`` and compared with this configuration (as if
    [pmem]namespaces were empty with ``nothing_mapped``, as ``remove`` asks)."""
    where = path(conf.agent)
    status, unreadable = read(where) if where else (None, None)
    if status is not None:
        status = with_freshness(status, conf.agent.interval, time.time() if now is None else now,
                                fingerprint.pid_alive, fingerprint.of(conf, nothing_mapped=nothing_mapped),
                                conf.agent.max_backoff)
    return AgentStatus(where, status, unreadable)


def read(path: str) -> tuple[dict[str, typing.Any] | None, str | None]:
    """(status, None) when it is usable; (None, None) when there is no file; (None, why) when
    it is there but cannot be read or is not a status."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"the agent's status file {path} cannot be read: {exc.strerror or exc}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"the agent's status file {path} is corrupt (not JSON: {exc})"
    if not isinstance(data, dict):
        return None, f"the agent's status file {path} is corrupt (not a JSON object)"
    return data, None


def with_freshness(status: dict[str, typing.Any], interval: int, now: float,
                   alive: typing.Callable[[typing.Any], bool], config_fingerprint: str,
                   max_backoff: float = 0) -> dict[str, typing.Any]:
    """The agent's status plus ``stale`` (why it no longer describes a running agent, or None)
    and ``same_config`` (whether it ran with these files' configuration; None when unknown).

    The agent records when its own schedule (the interval, or a backoff after failures) runs
    the next cycle: it is stale when that time is more than two intervals past (a cycle in
    progress, bounded by the request timeouts, fits). A status without ``next_attempt`` is
    stale when its last attempt is older than three times the longest wait (interval or
    max_backoff)."""
    stale = None
    if not alive(status.get("pid")):
        stale = f"its process {status.get('pid')} is gone"
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
    return {**status, "stale": stale, "same_config": same}


def _timestamp(value: typing.Any) -> float | None:
    try:
        return datetime.datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None
