"""The operations a plan is made of, and the lines an operator reads for each. Pure data.

Each operation is one write (or, for a rename that must step aside, two) that ``apply.py``
sends; ``changes`` turns a plan into the lines ``reconcile``, ``remove`` and the agent print.
"""

import dataclasses
import typing

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
class RenameProvider:
    """The compute node was renamed: its PMEM provider follows (one PUT of the name). Also: an
    older provider of ours leaves today's name to today's provider."""

    identity: Identity
    before: str
    note: str = "its compute node was renamed"

    def changes(self) -> list[Change]:
        return [Change("update", "resource_provider", self.identity.name, before={"name": self.before},
                       after={"name": self.identity.name}, note=self.note)]


@dataclasses.dataclass(frozen=True)
class RetireProvider:
    """An older PMEM provider of ours: closed to new allocations (reserved = total), kept for its
    consumers, deleted by a later plan once free."""

    identity: Identity
    generation: int
    before: Inventories
    after: Inventories
    usages: typing.Mapping[str, int]

    def changes(self) -> list[Change]:
        used = sum(self.usages.get(rc, 0) for rc in self.after)
        return [Change("update", "resource_provider", self.identity.name,
                       note=f"older PMEM provider of this compute node: closed to new allocations "
                       f"({used} in use), deleted once free")]


@dataclasses.dataclass(frozen=True)
class SetInventories:
    identity: Identity
    before: Inventories
    after: Inventories
    usages: typing.Mapping[str, int]
    notes: typing.Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Why a class is reserved, by class."""

    def changes(self) -> list[Change]:
        result = []
        for rc in sorted(set(self.before) | set(self.after)):
            old, new = self.before.get(rc), self.after.get(rc)
            if old == new:
                continue
            if old is None:
                assert new is not None
                result.append(Change("create", "inventory", rc, after=new.as_dict(), note=self.notes.get(rc)))
            elif new is None:
                result.append(Change("delete", "inventory", rc, before=old.as_dict()))
            else:
                fields = [f for f in Inventory.FIELDS if getattr(old, f) != getattr(new, f)]
                note = self.notes.get(rc)
                if note is None and new.retiring and not old.retiring:
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


Operation = (EnsureResourceClasses | EnsureTraits | CreateProvider | RenameProvider | SetTraits | SetInventories
             | RetireProvider | DeleteProvider)


def changes(ops: typing.Iterable[Operation]) -> list[Change]:
    return [change for op in ops for change in op.changes()]
