"""Rendering results for people (text) and for scripts (JSON with stable keys, see docs/commands.md)."""

import json
import typing

from pmem_placement import errors
from pmem_placement.discover import health as health_mod
from pmem_placement import plan as plan_mod
from pmem_placement import show as show_mod
from pmem_placement.reconcile import Outcome
from pmem_placement.show import NamespaceRow
from pmem_placement.show import PlacementView

_SIGN = {"create": "+", "ensure": "+", "update": "~", "delete": "-"}
_KIND = {
    "resource_class": "resource class",
    "trait": "trait",
    "resource_provider": "resource provider",
    "inventory": "inventory",
}


def _fields(values: typing.Mapping[str, typing.Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())


def change_line(change: plan_mod.Change) -> str:
    kind = _KIND[change.kind]
    if change.kind == "trait":
        kind = "custom trait" if change.action == "ensure" else "provider trait"
    line = f"{_SIGN[change.action]} {kind} {change.name}"
    if change.action == "update" and change.before is not None and change.after is not None:
        line += ": " + ", ".join(f"{k} {change.before[k]} -> {change.after[k]}" for k in change.after)
    elif change.kind == "resource_provider" and change.after:
        line += f" (uuid {change.after['uuid']}, parent {change.after['parent_provider_uuid']})"
    elif change.kind == "inventory":
        line += ": " + _fields(change.after or change.before or {})
    if change.note:
        line += f" ({change.note})"
    return line


def _error(error: Exception | None) -> dict[str, str] | None:
    """``type``: the class of the error's kind, as released (a subclass may keep its parent's)."""
    if error is None:
        return None
    kind = errors.kind_of(error).name
    named = next((c for c in type(error).__mro__ if errors.snake(c.__name__) == kind), type(error))
    return {"type": named.__name__, "message": str(error)}


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def reconcile_status(outcome: Outcome, dry_run: bool) -> str:
    if not outcome.ops:
        return "in_sync"
    return "would_change" if dry_run else "changed"


def reconcile_json(host: str | None, outcome: Outcome | None, dry_run: bool, requests: typing.Mapping[str, int],
                   error: Exception | None = None) -> str:
    data: dict[str, typing.Any] = {
        "status": "error" if error or outcome is None else reconcile_status(outcome, dry_run),
        "dry_run": dry_run,
        "host": host,
        "provider": None,
        "changes": [],
        "inventories": {},
        "traits": [],
        "requests": dict(sorted(requests.items())),
        "failsafe": failsafe_json(outcome.failsafe, outcome.withheld) if outcome and outcome.failsafe else None,
        "error": _error(error),
    }
    if outcome is not None and outcome.identity is not None:
        ident = outcome.identity
        data["provider"] = {"name": ident.name, "uuid": ident.uuid, "parent_provider_uuid": ident.parent_uuid}
        data["changes"] = [
            {"action": c.action, "kind": c.kind, "name": c.name, "before": c.before, "after": c.after, "note": c.note}
            for c in plan_mod.changes(outcome.ops)
        ]
        if outcome.current is not None:
            data["inventories"] = {rc: inv.as_dict() for rc, inv in sorted(outcome.current.inventories.items())}
            data["traits"] = sorted(outcome.current.traits)
    return json.dumps(data, indent=2, sort_keys=False)


def failsafe_json(failsafe: plan_mod.FailSafe, withheld: typing.Mapping[str, int]) -> dict[str, typing.Any]:
    return {"withheld": dict(sorted(withheld.items())), "consumers": list(failsafe.consumers), "why": failsafe.why}


def failsafe_line(failsafe: plan_mod.FailSafe, withheld: typing.Mapping[str, int]) -> str:
    units = sum(withheld.values())
    where = ", ".join(f"{n} of {rc}" for rc, n in sorted(withheld.items()))
    count = len(failsafe.consumers)
    return (f"fail-safe: {units} unit{'s' if units != 1 else ''} withheld ({where}): {failsafe.why}, so the "
            f"{count} consumer{'s' if count != 1 else ''} holding PMEM then may hold any configured namespace; "
            "released as they leave, or at once by 'pmem-placement reconcile --end-fail-safe' if today's "
            "mapping is the one they were placed under")


def recreated_line(name: str, uuids: tuple[str, str]) -> str:
    return (f"namespace {name!r} was destroyed and re-created under the same name (uuid {uuids[0]} -> "
            f"{uuids[1]}) while a consumer may hold it: that consumer's data is gone; it stays reserved "
            "until that consumer releases it")


def reconcile_text(outcome: Outcome, dry_run: bool, requests: int) -> str:
    name = outcome.identity.name if outcome.identity else "PMEM provider"
    cost = f"{requests} request{'s' if requests != 1 else ''}"
    tail = [failsafe_line(outcome.failsafe, outcome.withheld)] if outcome.failsafe and outcome.withheld else []
    if not outcome.ops:
        return "\n".join([f"{name}: in sync, nothing to change ({cost})"] + tail)
    lines = [change_line(c) for c in plan_mod.changes(outcome.ops)]
    verb = "would change (dry run, nothing written)" if dry_run else "changed"
    return "\n".join(lines + [f"{name}: {verb} ({cost})"] + tail)


def _class_states(view: PlacementView, configured: typing.Collection[str]) -> dict[str, str]:
    fenced = bool(view.pmem_elsewhere or view.root_pmem_classes)
    return {rc: show_mod.class_state(rc, c, configured, fenced) for rc, c in view.classes.items()}


def _double_counting(view: PlacementView) -> str:
    elsewhere = view.pmem_elsewhere or ({view.root_name: view.root_pmem_classes} if view.root_pmem_classes else {})
    parts = []
    for name, classes in sorted(elsewhere.items()):
        if name == view.root_name:
            parts.append(f"{name} itself has {', '.join(classes)}: nova reports PMEM too "
                         "([libvirt]pmem_namespaces in nova.conf)")
        else:
            parts.append(f"provider {name!r} (another service's) has {', '.join(classes)}")
    return "; ".join(parts) + "; report it from one place only"


def agent_line(agent: typing.Mapping[str, typing.Any]) -> str:
    """The agent's status in one line (``status_file.with_freshness``'s dict): marked STALE when
    it no longer describes a running agent, and said when whether one runs cannot be told."""
    stale = f" (STALE: {agent['stale']})" if agent.get("stale") else ""
    lock = agent.get("running") or {}
    if not stale and lock.get("held") is None and lock.get("unknown"):
        stale = f" (running: unknown, {lock['unknown']})"
    return (f"Agent: {agent.get('state')}, last success {agent.get('last_success') or 'never'}, "
            f"last attempt {agent.get('last_attempt') or 'never'} (pid {agent.get('pid')}){stale}")


def show_json(host: str | None, rows: list[NamespaceRow], missing: list[str], view: PlacementView | None,
              error: Exception | None, agent: typing.Mapping[str, typing.Any] | None = None,
              offline: bool = False, configured: typing.Collection[str] = ()) -> str:
    placement = None
    if view is not None:
        states = _class_states(view, configured)
        placement = {
            "compute_node": {"name": view.root_name, "uuid": view.root_uuid},
            "provider": None if view.provider is None else {"name": view.provider.name, "uuid": view.provider.uuid},
            "classes": {rc: {**c, "state": states[rc] or "open"} for rc, c in view.classes.items()},
            "traits": view.traits,
            "nova_pmem_classes": view.root_pmem_classes,
            "pmem_elsewhere": view.pmem_elsewhere,
            "failsafe": view.failsafe,
        }
    data = {
        "host": host,
        "namespaces": [
            {
                "dev": r.namespace.dev,
                "name": r.namespace.name,
                "mode": r.namespace.mode,
                "size": r.namespace.size,
                "chardev": r.namespace.chardev,
                "numa_node": r.namespace.numa_node,
                "target_node": r.namespace.target_node,
                "align": r.namespace.align,
                "region": r.namespace.region,
                "bus_provider": r.namespace.bus_provider,
                "health": r.namespace.health.state,
                "health_reasons": list(r.namespace.health.reasons),
                "health_notes": list(r.namespace.health.notes),
                "label": r.label,
                "resource_class": r.resource_class,
                "status": r.status,
            }
            for r in rows
        ],
        "missing": missing,
        "offline": offline,
        "placement": placement,
        "agent": agent,
        "error": _error(error),
    }
    return json.dumps(data, indent=2)


def _nodes(ns: typing.Any) -> str:
    """The NUMA node, and the node the memory joins where it differs (CXL): ``0->1``."""
    numa = "-" if ns.numa_node is None else str(ns.numa_node)
    if ns.target_node is not None and ns.target_node != ns.numa_node:
        return f"{numa}->{ns.target_node}"
    return numa


def _health(ns: typing.Any) -> str:
    """The HEALTH column: ``-`` where the output carried no health signal at all."""
    return "-" if ns.health.notes == (health_mod.NO_SIGNALS,) else str(ns.health.state)


def show_text(host: str | None, rows: list[NamespaceRow], missing: list[str], view: PlacementView | None,
              error: Exception | None, agent: typing.Mapping[str, typing.Any] | None = None,
              offline: bool = False, configured: typing.Collection[str] = ()) -> str:
    out = [f"Namespaces on {host}:"]
    if not rows:
        out.append("  (none found)")
    table = [("DEV", "NAME", "MODE", "SIZE", "CHARDEV", "NUMA", "BUS", "HEALTH", "CLASS", "STATUS")]
    for r in rows:
        ns = r.namespace
        table.append((
            ns.dev, ns.name or "-", ns.mode, human_size(ns.size), ns.chardev or "-", _nodes(ns),
            ns.bus_provider or "-", _health(ns), r.resource_class or "-", r.status,
        ))
    if rows:
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
        for row in table:
            out.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    for name in missing:
        out.append(f"  configured namespace {name!r} is not on this host")
    out.append("")
    if offline:
        out.append("Placement: not contacted (--offline)")
    elif isinstance(error, errors.RootProviderNotFound):
        out.append(f"Placement: {error}")
    elif error is not None:
        out.append(f"Placement: unavailable ({error})")
    elif view is None:
        out.append(f"Placement: no compute node provider for {host!r}")
    else:
        if view.provider is None:
            out.append(f"Placement: {view.root_name} has no PMEM provider")
        else:
            states = _class_states(view, configured)
            out.append(f"Placement: {view.provider.name} ({view.provider.uuid}), generation {view.generation}")
            for rc, c in view.classes.items():
                state = f" {states[rc]}" if states[rc] else ""
                out.append(f"  {rc}: total {c['total']}, reserved {c['reserved']}, used {c['used']}{state}")
            out.append(f"  traits: {', '.join(view.traits) or '-'}")
            if view.failsafe and view.failsafe["withheld"]:
                fs = view.failsafe
                out.append(f"  fail-safe: {sum(fs['withheld'].values())} withheld "
                           f"({', '.join(f'{n} of {rc}' for rc, n in fs['withheld'].items())}) for "
                           f"{len(fs['consumers'])} consumer(s) placed when the memory was unknown: {fs['why']}")
            out.append("  for consumers other than nova's libvirt driver: a nova instance given these gets no "
                       "nvdimm device")
        if view.pmem_elsewhere or view.root_pmem_classes:
            out.append(f"  WARNING double counting: {_double_counting(view)}")
    if agent is not None:
        out.extend(["", *agent_lines(agent)])
    return "\n".join(out)


def agent_lines(agent: typing.Mapping[str, typing.Any]) -> list[str]:
    """The agent's status as ``show`` prints it: its line, its error, a refused reload, and
    whether it runs with these files."""
    if agent.get("unreadable"):
        return [f"Agent: {agent['unreadable']}"]
    out = [agent_line(agent)]
    error_info = agent.get("last_error")
    if error_info and agent.get("state") != "stopped":
        out.append(f"  failing since {error_info.get('since')}: {error_info.get('message')}")
    reload_ = agent.get("last_reload") or {}
    if reload_.get("applied") is False and not agent.get("stale"):
        out.append(f"  reload refused at {reload_.get('at')}, running with the last good configuration: "
                   f"{reload_.get('error')}")
    if agent.get("same_config") is False and not agent.get("stale"):
        out.append("  its configuration differs from these files: reload the agent "
                   "(systemctl reload pmem-placement-agent)")
    return out
