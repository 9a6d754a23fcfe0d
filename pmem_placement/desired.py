"""The PMEM provider as Placement should hold it, and as it is: plain values.

Pure: no I/O. Identity is deterministic (uuid5 of the compute node's uuid and the child's name)
so that every run and every restart derives the same provider and can never create a duplicate.
"""

import dataclasses
import types
import typing
import uuid

from pmem_placement import mapping

CHILD_SUFFIX = ":pmem"


@dataclasses.dataclass(frozen=True)
class Inventory:
    total: int
    reserved: int = 0
    min_unit: int = 1
    max_unit: int = 1
    step_size: int = 1
    allocation_ratio: float = 1.0

    FIELDS: typing.ClassVar = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")

    @classmethod
    def for_namespaces(cls, count: int) -> "Inventory":
        """One unit per namespace; a guest takes whole namespaces, up to all of them."""
        return cls(total=count, max_unit=count)

    @classmethod
    def from_api(cls, record: typing.Mapping[str, typing.Any]) -> "Inventory":
        return cls(**{f: record[f] for f in cls.FIELDS if f in record})

    def as_dict(self) -> dict[str, typing.Any]:
        return {f: getattr(self, f) for f in self.FIELDS}

    def retired(self) -> "Inventory":
        """Still there for its consumers, closed to new allocations (reserved == total)."""
        return dataclasses.replace(self, reserved=self.total)

    @property
    def retiring(self) -> bool:
        return self.reserved >= self.total


Inventories = typing.Mapping[str, Inventory]


@dataclasses.dataclass(frozen=True)
class Identity:
    uuid: str
    name: str
    parent_uuid: str


@dataclasses.dataclass(frozen=True)
class Desired:
    """The PMEM provider this host should have."""

    identity: Identity
    inventories: Inventories
    traits: frozenset[str]


@dataclasses.dataclass(frozen=True)
class Current:
    """The PMEM provider as last read from Placement (at ``generation``)."""

    identity: Identity
    generation: int
    inventories: Inventories = dataclasses.field(default_factory=dict)
    traits: frozenset[str] = frozenset()
    usages: typing.Mapping[str, int] | None = None
    """Units in use per class; None when not read."""

    @property
    def managed(self) -> bool:
        return mapping.MANAGED_TRAIT in self.traits

    @property
    def blank(self) -> bool:
        """Nothing on it: what a crash right after creating it leaves behind."""
        return not self.inventories and not self.traits


def identity(root_uuid: str, root_name: str) -> Identity:
    name = f"{root_name}{CHILD_SUFFIX}"
    return Identity(str(uuid.uuid5(uuid.UUID(root_uuid), name)), name, root_uuid)


def desired(
    root_uuid: str, root_name: str, classes: typing.Mapping[str, int], traits: frozenset[str]
) -> Desired | None:
    """The provider for ``classes`` (resource class -> usable namespaces); None for no classes."""
    if not classes:
        return None
    inventories = {rc: Inventory.for_namespaces(count) for rc, count in sorted(classes.items())}
    return Desired(identity(root_uuid, root_name), types.MappingProxyType(inventories), traits)
