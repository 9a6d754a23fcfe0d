"""``plan(current, desired)``: the ordered operations that bring Placement to the desired state.

Pure: no I/O, no clock, no logging. The rules that keep everyone's data:

- a class that has allocations is never removed: it is *retired* (reserved = total) until its
  consumers are gone, then removed by a later plan;
- the provider is deleted only when nothing is desired and nothing is allocated from it;
- nothing is written when nothing differs.

Order matters for crash safety: resource classes and traits exist before they are used, and a
new provider gets its managed trait before any inventory, so a half-finished first sync leaves
either nothing or a provider that is recognisably ours.
"""

import dataclasses
import typing

from pmem_placement.desired import Current
from pmem_placement.desired import Desired
from pmem_placement.desired import Identity
from pmem_placement.desired import Inventories
from pmem_placement.desired import Inventory


@dataclasses.dataclass(frozen=True)
class Change:
    """One line of the plan an operator reads: what is created, changed or removed."""

    action: str  # "create" | "update" | "delete" | "ensure"
    kind: str  # "resource_class" | "trait" | "resource_provider" | "inventory"
    name: str
    before: typing.Mapping[str, typing.Any] | None = None
    after: typing.Mapping[str, typing.Any] | None = None
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class EnsureResourceClasses:
    names: tuple[str, ...]

    def changes(self) -> list[Change]:
        return [Change("ensure", "resource_class", n, note="created if missing") for n in self.names]


@dataclasses.dataclass(frozen=True)
class EnsureTraits:
    names: tuple[str, ...]

    def changes(self) -> list[Change]:
        return [Change("ensure", "trait", n, note="created if missing") for n in self.names]


@dataclasses.dataclass(frozen=True)
class CreateProvider:
    identity: Identity

    def changes(self) -> list[Change]:
        ident = self.identity
        after = {"uuid": ident.uuid, "parent_provider_uuid": ident.parent_uuid}
        return [Change("create", "resource_provider", ident.name, after=after)]


@dataclasses.dataclass(frozen=True)
class SetTraits:
    identity: Identity
    before: frozenset[str]
    after: frozenset[str]

    def changes(self) -> list[Change]:
        added = [Change("create", "trait", t) for t in sorted(self.after - self.before)]
        removed = [Change("delete", "trait", t) for t in sorted(self.before - self.after)]
        return added + removed


@dataclasses.dataclass(frozen=True)
class SetInventories:
    identity: Identity
    before: Inventories
    after: Inventories
    usages: typing.Mapping[str, int]

    def changes(self) -> list[Change]:
        result = []
        for rc in sorted(set(self.before) | set(self.after)):
            old, new = self.before.get(rc), self.after.get(rc)
            if old == new:
                continue
            if old is None:
                assert new is not None
                result.append(Change("create", "inventory", rc, after=new.as_dict()))
            elif new is None:
                result.append(Change("delete", "inventory", rc, before=old.as_dict()))
            else:
                fields = [f for f in Inventory.FIELDS if getattr(old, f) != getattr(new, f)]
                note = None
                if new.retiring and not old.retiring:
                    note = f"retiring: {self.usages.get(rc, 0)} in use, removed once free"
                result.append(
                    Change(
                        "update",
                        "inventory",
                        rc,
                        before={f: getattr(old, f) for f in fields},
                        after={f: getattr(new, f) for f in fields},
                        note=note,
                    )
                )
        return result


@dataclasses.dataclass(frozen=True)
class DeleteProvider:
    identity: Identity

    def changes(self) -> list[Change]:
        return [Change("delete", "resource_provider", self.identity.name, before={"uuid": self.identity.uuid})]


Operation = EnsureResourceClasses | EnsureTraits | CreateProvider | SetTraits | SetInventories | DeleteProvider


def needs_usages(current: Current | None, desired: Desired | None) -> bool:
    """Whether planning must know usages: only when a class (or the provider) may go away."""
    if current is None:
        return False
    if desired is None:
        return True
    return any(rc not in desired.inventories for rc in current.inventories)


def _in_use(current: Current, rc: str) -> int:
    if current.usages is None:
        raise ValueError("usages must be read before planning a removal")
    return current.usages.get(rc, 0)


def plan(current: Current | None, desired: Desired | None) -> list[Operation]:
    """The operations, in order, that turn ``current`` into ``desired``; [] when in sync."""
    if desired is None:
        if current is None:
            return []
        used = {rc: inv.retired() for rc, inv in current.inventories.items() if _in_use(current, rc) > 0}
        if not used:
            return [DeleteProvider(current.identity)]
        if used == dict(current.inventories):
            return []
        return [SetInventories(current.identity, current.inventories, used, current.usages or {})]

    ops: list[Operation] = []
    cur_inv: Inventories = current.inventories if current else {}
    cur_traits = current.traits if current else frozenset()

    new_classes = tuple(sorted(set(desired.inventories) - set(cur_inv)))
    if new_classes:
        ops.append(EnsureResourceClasses(new_classes))
    new_traits = tuple(sorted(desired.traits - cur_traits))
    if new_traits:
        ops.append(EnsureTraits(new_traits))
    if current is None:
        ops.append(CreateProvider(desired.identity))
    if desired.traits != cur_traits:
        ops.append(SetTraits(desired.identity, cur_traits, desired.traits))

    after = dict(desired.inventories)
    usages: typing.Mapping[str, int] = {}
    if current is not None:
        for rc, inv in current.inventories.items():
            if rc not in desired.inventories and _in_use(current, rc) > 0:
                after[rc] = inv.retired()
        usages = current.usages or {}
    if after != dict(cur_inv):
        ops.append(SetInventories(desired.identity, cur_inv, after, usages))
    return ops


def changes(ops: typing.Iterable[Operation]) -> list[Change]:
    return [change for op in ops for change in op.changes()]
