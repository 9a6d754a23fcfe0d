"""What ``pmem-placement show`` reports: the host's namespaces and Placement's view, as data."""

import dataclasses
import typing

from pmem_placement import consumers
from pmem_placement import desired as desired_mod
from pmem_placement import mapping
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import RootProviderNotFound
from pmem_placement.placement.client import Client
from pmem_placement.reconcile import find_root


@dataclasses.dataclass(frozen=True)
class NamespaceRow:
    namespace: Namespace
    label: str | None
    resource_class: str | None
    status: str
    """'used', or why it is not: 'not in [pmem]namespaces', 'not usable: ...'."""


def namespace_rows(labels: list[mapping.Label], namespaces: list[Namespace]) -> list[NamespaceRow]:
    by_name = {name: label for label in labels for name in label.namespace_names}
    rows = []
    for ns in sorted(namespaces, key=lambda n: n.dev):
        label = by_name.get(ns.name or "")
        by_device = _by_device(ns, by_name) if label is None else None
        if by_device:
            status = by_device
        elif ns.problem:
            status = f"not usable: {ns.problem}"
        elif label is None:
            status = "not in [pmem]namespaces"
        else:
            status = "used"
        rows.append(NamespaceRow(ns, label.label if label else None, label.resource_class if label else None, status))
    return rows


def _by_device(ns: Namespace, by_name: dict[str, mapping.Label]) -> str | None:
    """Why a namespace configured by its device name, not its name, is not used (as
    ``mapping.problems`` says too); None when it is not."""
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


def tree_pmem(client: Client, root: typing.Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The PMEM classes of the providers of the compute node's tree (``reconcile.Root``), by
    provider name: (those we do not own, the compute node included; those of ours: today's
    provider, and older ones known by the managed trait), told apart as ``reconcile`` does.
    GET requests only."""
    today = desired_mod.identity_in_tree(root.uuid, root.name, root.tree).uuid
    elsewhere: dict[str, list[str]] = {}
    ours: dict[str, list[str]] = {}
    for p in root.tree:
        _, inventories = client.inventories(p["uuid"])
        classes = sorted(rc for rc in inventories if rc.startswith(mapping.CLASS_PREFIX))
        if not classes:
            continue
        if p["uuid"] == today or (
                p["uuid"] != root.uuid and mapping.MANAGED_TRAIT in client.traits(p["uuid"])[1]):
            ours[p["name"]] = classes
        else:
            elsewhere[p["name"]] = classes
    return elsewhere, ours


def placement_view(client: Client, host: str, root_uuid: str | None) -> PlacementView | None:
    """Placement's view of this host's PMEM provider; None when the compute node is not there."""
    try:
        root = find_root(client, host, root_uuid)
    except RootProviderNotFound:
        return None
    elsewhere, _ = tree_pmem(client, root)
    root_pmem = elsewhere.get(root.name, [])
    ident = desired_mod.identity_in_tree(root.uuid, root.name, root.tree)
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
    import datetime

    try:
        return datetime.datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None
