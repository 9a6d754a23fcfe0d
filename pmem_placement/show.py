"""What ``pmem-placement show`` reports: the host's namespaces and Placement's view, as data."""

import dataclasses
import typing

from pmem_placement import consumers
from pmem_placement import desired as desired_mod
from pmem_placement import mapping
from pmem_placement import read
from pmem_placement import remap
from pmem_placement import state as state_mod
from pmem_placement.discover.model import Namespace
from pmem_placement.placement.client import Client


@dataclasses.dataclass(frozen=True)
class NamespaceRow:
    namespace: Namespace
    label: str | None
    resource_class: str | None
    status: str
    """'configured' (offered), or why it is not: 'not in [pmem]namespaces', 'not usable: ...',
    'withdrawn: unhealthy: ...', 'reserved: [pmem]reserved_namespaces'."""


def namespace_rows(labels: list[mapping.Label], namespaces: list[Namespace],
                   unhealthy: str = "reserve", reserved: typing.AbstractSet[str] = frozenset()) -> list[NamespaceRow]:
    """``unhealthy``: [pmem]unhealthy, which decides whether a configured unhealthy namespace is
    offered; ``reserved``: [pmem]reserved_namespaces (``mapping.reserved``)."""
    by_name = {name: label for label in labels for name in label.namespace_names}
    carriers: dict[str, list[str]] = {}
    for ns in namespaces:
        carriers.setdefault(ns.name or "", []).append(ns.dev)
    rows = []
    for ns in sorted(namespaces, key=lambda n: n.dev):
        label = by_name.get(ns.name or "")
        by_device = _by_device(ns, by_name) if label is None else None
        if by_device:
            status = by_device
        elif label is not None and ns.name in reserved:
            status = f"reserved: {mapping.RESERVED_OPTION}"
        elif label is not None and len(carriers[ns.name or ""]) > 1:
            status = f"withdrawn: ambiguous: {', '.join(sorted(carriers[ns.name or '']))} all carry its name"
        elif ns.problem:
            status = f"not usable: {ns.problem}"
        elif label is None:
            status = "not in [pmem]namespaces"
        elif ns.health.state != "ok":
            status = f"withdrawn: {ns.health.summary}" if unhealthy != "offer" else \
                f"configured, although {ns.health.summary} ([pmem]unhealthy = offer)"
        else:
            status = "configured"
        rows.append(NamespaceRow(ns, label.label if label else None, label.resource_class if label else None, status))
    return rows


def _by_device(ns: Namespace, by_name: dict[str, mapping.Label]) -> str | None:
    """Why a namespace configured by its device name, not its name, is not used (as
    ``mapping.resolve`` says too); None when it is not."""
    for key in (ns.dev, ns.chardev):
        if key and key in by_name:
            where = f"given by its device name {key!r} (label {by_name[key].label!r}): "
            if ns.name:
                return where + f"namespaces are given by name, use {ns.name!r}"
            return where + "it has no name; name it and configure that name"
    return None


def missing_names(labels: list[mapping.Label], namespaces: list[Namespace]) -> list[str]:
    """Configured names that match no namespace (not even as a device name: its row says why)."""
    present = {key for ns in namespaces for key in (ns.name, ns.dev, ns.chardev) if key}
    return [name for label in labels for name in label.namespace_names if name not in present]


@dataclasses.dataclass(frozen=True)
class PlacementView:
    root_name: str
    root_uuid: str
    provider: desired_mod.Identity | None
    generation: int | None
    classes: dict[str, dict[str, int]]
    """Resource class -> total, reserved, used."""
    traits: list[str]
    root_pmem_classes: list[str] = dataclasses.field(default_factory=list)
    """PMEM classes on the compute node provider itself: nova reports PMEM too (double counting)."""
    pmem_elsewhere: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    failsafe: dict[str, typing.Any] | None = None
    """What the fail-safe withholds (``failsafe_view``), None when nothing."""
    """PMEM classes of every provider of the tree we do not own (the compute node included), by
    provider name: any of them fences ours, as ``reconcile`` does."""


def class_state(rc: str, counts: typing.Mapping[str, int], configured: typing.Collection[str],
                fenced: bool = False) -> str:
    """'' for a class open to allocations; 'retiring' when no longer configured and still in
    use (reserved = total until free); for a configured class with reserved = total, 'fenced'
    when a provider of the tree we do not own reports PMEM (``PlacementView.pmem_elsewhere``), else 'closed' (its namespaces may still be held
    by consumers of a class that had them)."""
    if counts["reserved"] < counts["total"]:
        return ""
    if rc not in configured:
        return "retiring"
    return "fenced" if fenced else "closed"


def failsafe_view(memory: state_mod.Cache | None, view: PlacementView) -> dict[str, typing.Any] | None:
    """What the fail-safe withholds on ``view``'s provider, from the state directory's memory:
    ``{"withheld", "consumers", "why"}``, or None."""
    if memory is None or memory.root_uuid != view.root_uuid or not memory.failsafe:
        return None
    totals = {rc: c["total"] for rc, c in view.classes.items()}
    withheld = remap.withheld(totals, memory.failsafe)
    return {"withheld": dict(sorted(withheld.items())), "consumers": sorted(memory.failsafe),
            "why": memory.failsafe_why}


def placement_view(client: Client, host: str, root_uuid: str | None) -> PlacementView | None:
    """Placement's view of this host's PMEM provider (``RootProviderNotFound`` when the compute
    node is not there)."""
    root = read.find_root(client, host, root_uuid)
    elsewhere = read.pmem_in_tree(client, root).classes_elsewhere()
    root_pmem = elsewhere.get(root.name, [])
    ident = root.today()
    record = next((p for p in root.tree if p["uuid"] == ident.uuid), None)
    if record is None:
        return PlacementView(root.name, root.uuid, None, None, {}, [], root_pmem, elsewhere)
    ident = dataclasses.replace(ident, name=record["name"])  # as Placement names it (before a rename)
    _, inventories = client.inventories(ident.uuid)
    _, usages = client.usages(ident.uuid)
    generation, traits = client.traits(ident.uuid)
    classes: dict[str, dict[str, typing.Any]] = {
        rc: {"total": inv.total, "reserved": inv.reserved, "used": usages.get(rc, 0)}
        for rc, inv in sorted(inventories.items())
    }
    if any(usages.get(rc, 0) for rc in inventories):
        consumers.warn_all(client, ident.uuid, ident.name)
    return PlacementView(root.name, root.uuid, ident, generation, classes, sorted(traits), root_pmem, elsewhere)
