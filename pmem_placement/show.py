"""What ``pmem-placement show`` reports: the host's namespaces and Placement's view, as data."""

import dataclasses
import typing

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
        if ns.problem:
            status = f"not usable: {ns.problem}"
        elif label is None:
            status = "not in [pmem]namespaces"
        else:
            status = "used"
        rows.append(NamespaceRow(ns, label.label if label else None, label.resource_class if label else None, status))
    return rows


def missing_names(labels: list[mapping.Label], namespaces: list[Namespace]) -> list[str]:
    present = {ns.name for ns in namespaces}
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


def placement_view(client: Client, host: str, root_uuid: str | None) -> PlacementView | None:
    """Placement's view of this host's PMEM provider; None when the compute node is not there."""
    try:
        root = find_root(client, host, root_uuid)
    except RootProviderNotFound:
        return None
    ident = desired_mod.identity_in_tree(root.uuid, root.name, root.tree)
    record = next((p for p in root.tree if p["uuid"] == ident.uuid), None)
    if record is None:
        return PlacementView(root.name, root.uuid, None, None, {}, [])
    ident = dataclasses.replace(ident, name=record["name"])  # as Placement names it (before a rename)
    _, inventories = client.inventories(ident.uuid)
    _, usages = client.usages(ident.uuid)
    generation, traits = client.traits(ident.uuid)
    classes: dict[str, dict[str, typing.Any]] = {
        rc: {"total": inv.total, "reserved": inv.reserved, "used": usages.get(rc, 0)}
        for rc, inv in sorted(inventories.items())
    }
    return PlacementView(root.name, root.uuid, ident, generation, classes, sorted(traits))
