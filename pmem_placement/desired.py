"""The PMEM provider as Placement should hold it, and as it is: plain values.

Pure: no I/O. Identity is deterministic so that every run and every restart derives the same
provider and can never create a duplicate: the uuid is ``uuid5(compute node uuid, "pmem")``, from the
compute node's uuid alone, so the provider follows its compute node through a rename (one PUT of
the name). 0.1.0 derived ``uuid5(compute node uuid, "<root name>:pmem")``: such a provider under
today's name is adopted as it is; under an older name it is an older provider of ours, retired.
"""

import dataclasses
import types
import typing
import uuid


CHILD_SUFFIX = ":pmem"
MAX_NAME = 200
"""Placement's limit on a provider's name."""
MAX_ROOT_NAME = MAX_NAME - len("-12345678" + CHILD_SUFFIX)
"""The longest compute node name whose provider's temporary name during a rename,
``<name>-<uuid8>:pmem``, Placement accepts: 186."""


def name_too_long(root_name: str) -> str | None:
    """Why the compute node's name leaves no room for the PMEM provider's, or None."""
    if len(root_name) <= MAX_ROOT_NAME:
        return None
    return (f"the compute node's name {root_name[:40]}... is {len(root_name)} characters long: the PMEM "
            f"provider's name (and <name>-<uuid8>{CHILD_SUFFIX} while it is renamed) would exceed "
            f"Placement's {MAX_NAME}; pmem-placement serves compute node names of up to {MAX_ROOT_NAME}")


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
    def for_namespaces(cls, count: int, unusable: int = 0) -> "Inventory":
        """One unit per namespace; a guest takes whole namespaces, up to all of them; the
        ``unusable`` ones reserved."""
        return cls(total=count, reserved=min(count, unusable), max_unit=count)

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
    namespaces: typing.Mapping[str, frozenset[str]] | None = None
    """Resource class -> the names of its namespaces; None when not known."""
    withdrawn: typing.Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """Resource class -> why each of its configured namespaces that is not offered is not (each
    reserves a unit)."""


@dataclasses.dataclass(frozen=True)
class Current:
    """The PMEM provider as last read from Placement (at ``generation``)."""

    identity: Identity
    generation: int
    inventories: Inventories = dataclasses.field(default_factory=dict)
    traits: frozenset[str] = frozenset()
    usages: typing.Mapping[str, int] | None = None
    """Units in use per class; None when not read."""


def identity(root_uuid: str, root_name: str) -> Identity:
    """Today's PMEM provider of a compute node: its uuid depends on the compute node's uuid only."""
    return Identity(str(uuid.uuid5(uuid.UUID(root_uuid), "pmem")), f"{root_name}{CHILD_SUFFIX}", root_uuid)


def legacy_uuid(root_uuid: str, name: str) -> str:
    """The uuid 0.1.0 derived for a PMEM provider named ``name``."""
    return str(uuid.uuid5(uuid.UUID(root_uuid), name))


def identity_in_tree(root_uuid: str, root_name: str, tree: typing.Iterable[typing.Mapping[str, typing.Any]]) -> Identity:
    """Today's PMEM provider, given the providers of the compute node's tree: the provider with
    today's uuid; else a 0.1.0 provider under today's name, adopted as it is; else (none yet)
    today's uuid."""
    ident = identity(root_uuid, root_name)
    uuids = {p["uuid"] for p in tree}
    if ident.uuid not in uuids:
        legacy = legacy_uuid(root_uuid, ident.name)
        if legacy in uuids:
            return dataclasses.replace(ident, uuid=legacy)
    return ident


def may_be_ours(root_uuid: str, provider: typing.Mapping[str, typing.Any]) -> bool:
    """Whether a provider of the tree that is not today's may be an older PMEM provider of ours
    (decided by the tree listing alone; its managed trait decides for sure)."""
    name = str(provider.get("name") or "")
    return name.endswith(CHILD_SUFFIX) or provider["uuid"] == legacy_uuid(root_uuid, name)


def desired(
    root_uuid: str, root_name: str, classes: typing.Mapping[str, int], traits: frozenset[str],
    ident: Identity | None = None, namespaces: typing.Mapping[str, typing.Iterable[str]] | None = None,
    withdrawn: typing.Mapping[str, tuple[str, ...]] | None = None,
) -> Desired | None:
    """The provider for ``classes`` (resource class -> configured namespaces); None for no classes.
    ``namespaces``: resource class -> the names of its namespaces, when known; ``withdrawn``:
    resource class -> why each of its namespaces that is not there or not usable is not, each
    reserved."""
    if not classes:
        return None
    withdrawn = {rc: tuple(why) for rc, why in (withdrawn or {}).items() if why and rc in classes}
    inventories = {rc: Inventory.for_namespaces(count, len(withdrawn.get(rc, ())))
                   for rc, count in sorted(classes.items())}
    names = None if namespaces is None else {rc: frozenset(namespaces.get(rc, ())) for rc in inventories}
    return Desired(ident or identity(root_uuid, root_name), types.MappingProxyType(inventories), traits, names,
                   types.MappingProxyType(withdrawn))


def aside_name(name: str, uuid_: str) -> str:
    """A unique name for a PMEM provider that must leave ``name`` to another (an older provider
    of ours holding today's name; ours while another host's provider holds the name it wants)."""
    base = name[: -len(CHILD_SUFFIX)] if name.endswith(CHILD_SUFFIX) else name
    return f"{base}-{uuid_[:8]}{CHILD_SUFFIX}"
