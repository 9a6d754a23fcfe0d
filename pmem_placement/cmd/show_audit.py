"""``pmem-placement show`` under [pmem]mode = audit: nova's PMEM, as the audit sees it.

In audit mode nova reports PMEM on the compute node itself and pmem-placement has no provider,
so ``show`` lists the host's namespaces against nova's ``[libvirt]pmem_namespaces``, the
compute node's PMEM inventory and usage, and the audit's findings. It only reads; its exit
status is that of ``show`` (0 when Placement could be read), not the audit's.
"""

import json
import sys
import typing

from oslo_config import cfg

from pmem_placement import fingerprint
from pmem_placement import output
from pmem_placement.audit import runner
from pmem_placement.audit.nova_libvirt import OPTION

_HEADER = ("DEV", "NAME", "MODE", "SIZE", "CHARDEV", "NUMA", "CLASS", "STATUS")


def rows(result: runner.Result) -> list[dict[str, typing.Any]]:
    """One row per namespace on the host, with the class nova gives it and its status."""
    entries = result.config.entries if result.config else ()
    by_name = {name: entry for entry in entries for name in entry.names}
    out = []
    for ns in sorted(result.namespaces, key=lambda n: n.dev):
        entry = by_name.get(ns.name or "")
        if ns.problem:
            status = f"not usable: {ns.problem}"
        elif entry is None:
            status = f"not in {OPTION}"
        elif ns.health.state != "ok":
            status = f"in {OPTION}, but {ns.health.summary} (namespace_unhealthy)"
        else:
            status = f"in {OPTION}"
        out.append({"dev": ns.dev, "name": ns.name, "mode": ns.mode, "size": ns.size, "chardev": ns.chardev,
                    "numa_node": ns.numa_node, "health": ns.health.state, "health_reasons": list(ns.health.reasons),
                    "label": entry.label if entry else None,
                    "resource_class": entry.resource_class if entry else None, "status": status})
    return out


def classes(result: runner.Result) -> dict[str, dict[str, int]]:
    view = result.placement
    if view is None:
        return {}
    return {rc: {"total": total, "used": view.used.get(rc, 0)} for rc, total in sorted(view.totals.items())}


def as_json(result: runner.Result, agent: typing.Mapping[str, typing.Any] | None) -> str:
    error = result.error
    return json.dumps({
        "mode": "audit",
        "host": result.host,
        "namespaces": rows(result),
        "placement": None if result.compute_node is None else {
            "compute_node": result.compute_node, "classes": classes(result)},
        "findings": [f.as_dict() for f in result.findings],
        "agent": agent,
        "error": None if error is None else {"type": type(error).__name__, "message": str(error)},
    }, indent=2)


def as_text(result: runner.Result, agent: typing.Mapping[str, typing.Any] | None) -> str:
    out = [f"Namespaces on {result.host} ([pmem]mode = audit: nova reports them, from {OPTION}):"]
    table = [_HEADER]
    for r in rows(result):
        table.append((r["dev"], r["name"] or "-", r["mode"], output.human_size(r["size"]), r["chardev"] or "-",
                      "-" if r["numa_node"] is None else str(r["numa_node"]), r["resource_class"] or "-",
                      r["status"]))
    if len(table) == 1:
        out.append("  (none found)")
    else:
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
        out += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in table]
    out.append("")
    if result.error is not None:
        out.append(f"Audit not made: {result.error}")
    else:
        node = result.compute_node or {}
        out.append(f"Placement: {node.get('name')} ({node.get('uuid')}), nova's PMEM inventory:")
        out += [f"  {rc}: total {c['total']}, used {c['used']}" for rc, c in classes(result).items()]
        if not classes(result):
            out.append("  (none)")
        out.append("")
        count = len(result.findings)
        out.append(f"Audit: {count} finding{'s' if count != 1 else ''}" if count else "Audit: no findings")
        out += [f"  {f.kind}: {f.message}" for f in result.findings]
    if agent is not None:
        out.append("")
        if agent.get("unreadable"):
            out.append(f"Agent: {agent['unreadable']}")
        else:
            out.append(output.agent_line(agent))
            if agent.get("same_config") is False and not agent.get("stale"):
                out.append(f"  its configuration differs from these files: {fingerprint.RELOAD}")
    return "\n".join(out)


def run(conf: cfg.ConfigOpts) -> int:
    from pmem_placement import status_file
    from pmem_placement import wiring

    result = runner.audit(conf, lambda: wiring.client(conf, conf.os_cloud),
                          list(conf.pmem.nova_config), list(conf.pmem.nova_config_dir), always_discover=True)
    agent = status_file.load(conf).shown()
    print((as_json if conf.command.format == "json" else as_text)(result, agent))
    if result.error is not None:
        print(f"pmem-placement: error: {result.error}", file=sys.stderr)
        return result.error.exit_status
    return 0
