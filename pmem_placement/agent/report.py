"""The agent's status file (JSON) and metrics file (Prometheus text format), as data and text.

Both are rewritten whole after every cycle, atomically (readers see the old or the new file).
"""

import dataclasses
import datetime
import json
import os
import typing

import pmem_placement
from pmem_placement import errors
from pmem_placement import statedir

STATES = ("in_sync", "degraded", "error", "stopped")
"""``stopped``: written by a clean stop (not by the restart of a reload), so that no file left
behind reads as a healthy agent."""
HEALTH_STATES = ("ok", "unhealthy", "unknown")


@dataclasses.dataclass
class Status:
    host: str
    pid: int
    state: str = "degraded"
    cycles: int = 0
    consecutive_failures: int = 0
    last_attempt: float | None = None
    last_success: float | None = None
    last_duration: float | None = None
    last_error: dict[str, typing.Any] | None = None
    provider: dict[str, str] | None = None
    classes: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    requests: dict[str, int] = dataclasses.field(default_factory=dict)
    """Requests sent to Placement since the agent started, by HTTP method."""
    errors: dict[str, int] = dataclasses.field(default_factory=dict)
    """Failed cycles since the agent started, by kind."""
    findings: list[dict[str, typing.Any]] | None = None
    """[pmem]mode = audit: the last audit's findings (None in report mode)."""
    config_fingerprint: str | None = None
    """``pmem_placement.fingerprint.of`` the configuration the last cycle used."""
    mode: str = "report"
    """[pmem]mode: ``audit`` never writes to Placement."""
    next_attempt: float | None = None
    """When the agent's schedule (interval, or backoff after failures) runs the next cycle."""
    failsafe: dict[str, typing.Any] | None = None
    """What the fail-safe withholds (``{"withheld", "consumers", "why"}``), None when nothing."""
    namespaces: dict[str, dict[str, typing.Any]] = dataclasses.field(default_factory=dict)
    """Configured namespace -> ``{"resource_class", "offered", "why", "health", "health_reasons",
    "health_notes"}`` as the last run that discovered found it."""
    events: str | None = None
    """``listening (...)`` or ``unavailable (why)``: whether host changes wake the agent
    (``agent.events``); None before the loop starts."""
    interval: int | None = None
    """[agent]interval: monitoring compares the timestamps with it."""
    used: dict[str, int] | None = None
    """Class -> units allocated, as of the last read of the provider's usages (``used_at``);
    None before one. Not read for this: a steady cycle reads no usages."""
    used_at: float | None = None
    reloads: dict[str, int] = dataclasses.field(default_factory=lambda: {"applied": 0, "refused": 0})
    """Reloads (SIGHUP) since the agent started, by result."""
    last_reload: dict[str, typing.Any] | None = None
    """``{"at", "applied", "error"}`` of the last reload; None before one."""


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(timespec="seconds")


def status_json(status: Status) -> str:
    data = {
        "state": status.state,
        "host": status.host,
        "pid": status.pid,
        "last_attempt": iso(status.last_attempt),
        "last_success": iso(status.last_success),
        "last_duration_seconds": status.last_duration,
        "last_error": status.last_error,
        "consecutive_failures": status.consecutive_failures,
        "cycles": status.cycles,
        "provider": status.provider,
        "classes": status.classes,
        "config_fingerprint": status.config_fingerprint,
        "next_attempt": iso(status.next_attempt),
        "mode": status.mode,
        "failsafe": status.failsafe,
        "namespaces": status.namespaces,
        "events": status.events,
        "version": pmem_placement.version(),
        "interval_seconds": status.interval,
        "used": status.used,
        "used_at": iso(status.used_at),
        "reloads": status.reloads,
        "last_reload": status.last_reload,
    }
    if status.findings is not None:
        data["findings"] = status.findings
    return json.dumps(data, indent=2) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    """Full precision (a timestamp must not become 1.79e+09), integers without a '.0'."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


Metric = typing.Callable[[str, str, str, list[tuple[str, float]]], None]


def metrics_text(status: Status) -> str:
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP pmem_placement_{name} {help_}")
        out.append(f"# TYPE pmem_placement_{name} {kind}")
        out.extend(f"pmem_placement_{name}{labels} {_number(value)}" for labels, value in samples)

    _agent_metrics(metric, status)
    _provider_metrics(metric, status)
    return "\n".join(out) + "\n"


def _agent_metrics(metric: Metric, status: Status) -> None:
    """The agent itself: its version, state, schedule, requests, errors and reloads."""
    metric("build_info", "gauge", "Always 1: the version of pmem-placement that writes this file.",
           [(f'{{version="{_label(pmem_placement.version())}"}}', 1)])
    metric("state", "gauge", "1 for the agent's current state, 0 for the others; stopped: the agent was "
           "stopped cleanly.", [(f'{{state="{s}"}}', float(s == status.state)) for s in STATES])
    running = status.state != "stopped"  # a stopped agent has no schedule to be late for
    if status.interval is not None and running:
        metric("interval_seconds", "gauge", "[agent]interval: a running agent attempts a reconcile at least this "
               "often, or as its backoff after failures says (next_attempt_timestamp_seconds).",
               [("", status.interval)])
    if status.next_attempt is not None and running:
        metric("next_attempt_timestamp_seconds", "gauge", "When the agent's schedule runs the next reconcile "
               "(sooner when the host changes); later than this by an interval: the agent is down or stuck.",
               [("", status.next_attempt)])
    if status.last_success is not None:
        metric("last_success_timestamp_seconds", "gauge", "When Placement was last found or made in sync.",
               [("", status.last_success)])
    if status.last_attempt is not None:
        metric("last_attempt_timestamp_seconds", "gauge", "When the last reconcile started.",
               [("", status.last_attempt)])
    if status.last_duration is not None:
        metric("reconcile_duration_seconds", "gauge", "How long the last reconcile took.",
               [("", status.last_duration)])
    metric("reconciles_total", "counter", "Reconciles run since the agent started.", [("", status.cycles)])
    if status.events is not None:
        metric("events_listening", "gauge", "1 when host changes (uevents, health attributes, the namespaces file) "
               "wake the agent, 0 when it learns of them only every [agent]interval.",
               [("", float(status.events.startswith("listening")))])
    metric("requests_total", "counter", "Requests sent to Placement since the agent started.",
           [(f'{{method="{m}"}}', n) for m, n in sorted(status.requests.items())])
    kinds = sorted(set(errors.KINDS) | set(status.errors))
    metric("errors_total", "counter", "Failed reconciles since the agent started, by kind (every kind from the "
           "start, at 0).", [(f'{{kind="{_label(k)}"}}', status.errors.get(k, 0)) for k in kinds])
    error_kind = (status.last_error or {}).get("kind")
    metric("error", "gauge", "1 for the kind of the problem the agent reports now (the status file's "
           "last_error); no series while there is none.",
           [(f'{{kind="{_label(error_kind)}"}}', 1)] if error_kind and running else [])
    metric("reloads_total", "counter", "Reloads (SIGHUP) since the agent started: applied, or refused for an "
           "invalid configuration (the last good one kept).",
           [(f'{{result="{r}"}}', status.reloads.get(r, 0)) for r in ("applied", "refused")])
    metric("reload_last_applied", "gauge", "0 when the last reload was refused (the agent runs on the last good "
           "configuration: see last_reload in its status), 1 otherwise; none once stopped.",
           [("", float((status.last_reload or {}).get("applied", True)))] if running else [])


def _provider_metrics(metric: Metric, status: Status) -> None:
    """What the agent keeps in Placement: classes, the fail-safe, namespaces, audit findings."""
    metric("inventory_total", "gauge", "Units (namespaces) of each class on the PMEM provider.",
           [(f'{{resource_class="{rc}"}}', c["total"]) for rc, c in sorted(status.classes.items())])
    metric("inventory_reserved", "gauge", "Reserved units of each class (equal to total while retiring).",
           [(f'{{resource_class="{rc}"}}', c["reserved"]) for rc, c in sorted(status.classes.items())])
    if status.used is not None and status.used_at is not None:
        metric("inventory_used", "gauge", "Units of each class allocated to consumers, as of "
               "usage_timestamp_seconds (read when a reconcile needs them, not every cycle).",
               [(f'{{resource_class="{rc}"}}', status.used.get(rc, 0)) for rc in sorted(status.classes)])
        metric("usage_timestamp_seconds", "gauge", "When inventory_used was read from Placement.",
               [("", status.used_at)])
    withheld = (status.failsafe or {}).get("withheld", {})
    metric("failsafe_withheld_units", "gauge", "Units each class withholds by the fail-safe: consumers placed "
           "while the state directory's memory was unknown may hold any configured namespace.",
           [(f'{{resource_class="{rc}"}}', withheld.get(rc, 0)) for rc in sorted(status.classes)])
    namespaces = sorted(status.namespaces.items())
    metric("namespace_offered", "gauge", "1 when a configured namespace is offered, 0 when its unit is withdrawn "
           "(not there, not usable, or unhealthy).",
           [(f'{{namespace="{_label(n)}",resource_class="{v["resource_class"]}"}}', float(v["offered"]))
            for n, v in namespaces])
    metric("namespace_health", "gauge", "1 for a configured namespace's health (ok, unhealthy, unknown), 0 for "
           "the others; none for a namespace that is not there.",
           [(f'{{namespace="{_label(n)}",state="{h}"}}', float(v["health"] == h))
            for n, v in namespaces if v["health"] is not None for h in HEALTH_STATES])
    if status.findings is not None:
        from pmem_placement.audit.findings import counts_by_kind

        metric("audit_findings", "gauge", "Findings of the last audit ([pmem]mode = audit), by kind.",
               [(f'{{kind="{k}"}}', n) for k, n in counts_by_kind(status.findings)])


# Synced, file and directory, like every file the product writes: after a power cut the file is the
# old one or the new one, whole (two syncs every [agent]interval cost nothing).

def write_status(status: Status, path: str, state_dir: str | None = None) -> None:
    """Raises OSError, or StateDirError when ``path`` is in ``state_dir`` (its default place)
    and what is there cannot be trusted; the directory is created when missing."""
    name = statedir.entry_of(state_dir, path)
    if state_dir and name:
        statedir.replace_entry(state_dir, name, status_json(status), 0o644, create=True)
        return
    os.makedirs(os.path.dirname(path) or ".", mode=0o750, exist_ok=True)
    statedir.write_atomically(path, status_json(status), mode=0o644)


def write_metrics(status: Status, path: str) -> None:
    """Raises OSError. node_exporter's directory is not ours to create."""
    statedir.write_atomically(path, metrics_text(status), mode=0o644)


def write(status: Status, status_file: str | None, metrics_file: str | None, state_dir: str | None = None) -> None:
    if status_file:
        write_status(status, status_file, state_dir)
    if metrics_file:
        write_metrics(status, metrics_file)
