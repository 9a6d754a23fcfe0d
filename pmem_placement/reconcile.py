"""Read -> plan -> apply: bring Placement's PMEM provider to what the host has.

One attempt reads the compute node's tree (one request), trusts the remembered provider when its
generation is unchanged, reads only what it must otherwise, plans, and writes with the
generation it read. A conflict (someone else wrote first) starts the attempt over from fresh
reads, under the retry policy. The compute node provider itself is only ever read.
"""

import dataclasses
import random
import time
import typing

from pmem_placement import desired as desired_mod
from pmem_placement import mapping
from pmem_placement import plan as plan_mod
from pmem_placement.desired import Current
from pmem_placement.desired import Identity
from pmem_placement.errors import ConflictsDidNotSettle
from pmem_placement.errors import DoubleCounting
from pmem_placement.errors import ForeignProvider
from pmem_placement.errors import RootProviderNotFound
from pmem_placement.placement import errors as perrors
from pmem_placement.placement.client import Client
from pmem_placement.retry import RetryPolicy
from pmem_placement.state import Cache
from pmem_placement.state import StateStore


@dataclasses.dataclass(frozen=True)
class HostSpec:
    """What this host wants in Placement, from configuration and discovery."""

    host: str
    root_uuid: str | None
    classes: typing.Mapping[str, int]
    """Resource class -> number of usable namespaces; empty when nothing is configured."""
    traits: frozenset[str]

    @property
    def lookup(self) -> str:
        return f"uuid:{self.root_uuid}" if self.root_uuid else f"name:{self.host}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    identity: Identity | None
    ops: list[plan_mod.Operation]
    current: Current | None
    """The provider after this run's writes (or as read, when nothing was written)."""
    foreign_writes: int = 0
    """Consecutive runs, this one included, that found another writer's changes on the provider."""

    @property
    def another_writer(self) -> bool:
        """Twice in a row: not an operator's one-off edit but a second pmem-placement."""
        return self.foreign_writes >= 2


def another_writer_warning(host: str, outcome: "Outcome") -> str:
    name = outcome.identity.name if outcome.identity else f"{host}:pmem"
    return (
        f"{name} keeps being changed by another writer, and each run sets it back: is "
        f"[DEFAULT]host {host!r} configured on more than one host? Give each host its "
        "own name (nova's [DEFAULT]host), or stop the other writer"
    )


class _Stale(perrors.Conflict):
    """The generation moved between two of our own reads."""

    def __init__(self, name: str) -> None:
        super().__init__("GET", name, 409, None, "changed while it was being read")


@dataclasses.dataclass(frozen=True)
class Root:
    """The compute node's provider, with every provider of its tree as read."""

    uuid: str
    name: str
    generation: int
    tree: list[dict[str, typing.Any]]


def find_root(client: Client, host: str, root_uuid: str | None, cached_uuid: str | None = None) -> Root:
    """The compute node provider: by [pmem]root_provider_uuid, else by its name ``host``. A uuid
    remembered from an earlier run saves the name lookup while it still names ``host``."""
    if root_uuid:
        uuid, from_cache = root_uuid, False
    elif cached_uuid:
        uuid, from_cache = cached_uuid, True
    else:
        record = client.provider_by_name(host)
        if record is None:
            raise RootProviderNotFound(
                f"no resource provider named {host!r} in Placement: is nova-compute running "
                f"there, and is [DEFAULT]host the same as nova's?"
            )
        uuid, from_cache = record["uuid"], False
    tree = client.tree(uuid)
    root = next((p for p in tree if p["uuid"] == uuid), None)
    if root is None or (not root_uuid and root["name"] != host):
        if from_cache:
            # The compute node was replaced or renamed since the last run: look it up again.
            return find_root(client, host, None)
        raise RootProviderNotFound(f"resource provider {uuid} ([pmem]root_provider_uuid) does not exist in Placement")
    return Root(uuid, root["name"], root["generation"], tree)


class Reconciler:
    def __init__(
        self,
        client: Client,
        store: StateStore,
        policy: RetryPolicy = RetryPolicy(),
        sleep: typing.Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.policy = policy
        self.sleep = sleep
        self.rng = rng

    def run(self, spec: HostSpec, dry_run: bool = False) -> Outcome:
        if dry_run:
            return self._run(spec, dry_run)
        with self.store.lock():
            return self._run(spec, dry_run)

    def _run(self, spec: HostSpec, dry_run: bool) -> Outcome:
        cache = self.store.load(self.client.endpoint, spec.lookup)
        delays = self.policy.delays(self.rng)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(spec, cache, dry_run)
            except perrors.Conflict as exc:
                # Someone else changed the provider: forget what we knew of it, re-read.
                if cache is not None:
                    cache.child = None
                delay = next(delays, None)
                if delay is None:
                    raise ConflictsDidNotSettle(
                        f"the PMEM provider of {spec.host!r} kept changing under us for {attempt} attempts "
                        f"(last: {exc}); is another pmem-placement writing it, or is [DEFAULT]host "
                        f"{spec.host!r} configured on two hosts?"
                    ) from exc
                self.sleep(delay)

    def _read_child(self, ident: Identity, generation: int, cache: Cache | None) -> Current:
        if cache is not None and cache.child is not None:
            if cache.child.identity == ident and cache.child.generation == generation:
                # The generation proves inventory and traits unchanged, but not usages:
                # deleting an allocation leaves the generation as it was.
                return dataclasses.replace(cache.child, usages=None)
        inv_gen, inventories = self.client.inventories(ident.uuid)
        traits_gen, traits = self.client.traits(ident.uuid)
        if inv_gen != traits_gen:
            raise _Stale(ident.name)
        return Current(ident, traits_gen, inventories, traits)

    def _check_double_counting(self, root: Root, spec: HostSpec, cache: Cache) -> None:
        """Refuse classes the compute node provider already has. Its classes are read again only
        when its generation moved; the check itself runs on every run, for today's classes."""
        if cache.root_generation_checked != root.generation:
            _, root_inventory = self.client.inventories(root.uuid)
            cache.root_classes = frozenset(root_inventory)
            cache.root_generation_checked = root.generation
        clash = sorted(cache.root_classes & set(spec.classes))
        if clash:
            raise DoubleCounting(
                f"the compute node provider {root.name!r} already has {', '.join(clash)}: nova reports "
                f"these itself ([libvirt]pmem_namespaces is set in nova.conf). Report PMEM from one "
                f"place only: empty nova's [libvirt]pmem_namespaces, or unset [pmem]namespaces here"
            )

    def _attempt(self, spec: HostSpec, cache: Cache | None, dry_run: bool) -> Outcome:
        root = find_root(self.client, spec.host, spec.root_uuid, cache.root_uuid if cache else None)
        remembered = dataclasses.replace(cache) if cache is not None else None
        if cache is None or cache.root_uuid != root.uuid:
            cache = Cache(self.client.endpoint, spec.lookup, root.uuid)
        want = desired_mod.desired(root.uuid, root.name, spec.classes, spec.traits)
        ident = desired_mod.identity(root.uuid, root.name)

        if want is not None:
            self._check_double_counting(root, spec, cache)

        current = None
        for provider in root.tree:
            if provider["uuid"] == ident.uuid:
                current = self._read_child(ident, provider["generation"], cache)
            elif provider["name"] == ident.name:
                raise ForeignProvider(
                    f"provider {ident.name!r} in the tree of {root.name!r} has uuid {provider['uuid']}, "
                    f"not {ident.uuid}: it was not created by pmem-placement and is left alone"
                )
        if current is not None and not (current.managed or current.blank):
            raise ForeignProvider(
                f"provider {ident.name!r} ({ident.uuid}) exists but lacks {mapping.MANAGED_TRAIT}: "
                "pmem-placement does not modify providers it does not manage"
            )
        if current is not None and current.usages is None and plan_mod.needs_usages(current, want):
            usage_gen, usages = self.client.usages(ident.uuid)
            if usage_gen != current.generation:
                raise _Stale(ident.name)
            current = dataclasses.replace(current, usages=usages)

        # What we remember is exactly what we last wrote; new allocations move the generation
        # but change neither inventory nor traits. Anything else is another writer.
        remembered_child = remembered.child if remembered is not None else None
        if remembered_child is not None and remembered_child.identity == ident and (
            current is None or (current.inventories, current.traits)
            != (remembered_child.inventories, remembered_child.traits)
        ):
            cache.foreign_writes += 1
        else:
            cache.foreign_writes = 0

        ops = plan_mod.plan(current, want)
        if dry_run:
            return Outcome(ident, ops, current, cache.foreign_writes)
        if ops:
            cache.child = None
            self.store.clear()  # from here on Placement may differ from what we remember
            current = self._apply(ops, current)
        cache.child = dataclasses.replace(current, usages=None) if current is not None else None
        if cache != remembered:
            self.store.save(cache)  # steady state writes nothing, not even locally
        return Outcome(ident, ops, current, cache.foreign_writes)

    def _apply(self, ops: list[plan_mod.Operation], current: Current | None) -> Current | None:
        for op in ops:
            if isinstance(op, plan_mod.EnsureResourceClasses):
                self.client.ensure_resource_classes(op.names)
            elif isinstance(op, plan_mod.EnsureTraits):
                self.client.ensure_traits(op.names)
            elif isinstance(op, plan_mod.CreateProvider):
                current = Current(op.identity, self._create(op.identity), usages={})
            elif isinstance(op, plan_mod.SetTraits):
                assert current is not None
                gen = self.client.set_traits(op.identity.uuid, current.generation, op.after)
                current = dataclasses.replace(current, generation=gen, traits=op.after)
            elif isinstance(op, plan_mod.SetInventories):
                assert current is not None
                gen = self.client.set_inventories(op.identity.uuid, current.generation, op.after)
                current = dataclasses.replace(current, generation=gen, inventories=op.after)
            elif isinstance(op, plan_mod.DeleteProvider):
                self.client.delete_provider(op.identity.uuid)
                current = None
        return current

    def _create(self, ident: Identity) -> int:
        try:
            return self.client.create_provider(ident.name, ident.uuid, ident.parent_uuid)
        except perrors.DuplicateName as exc:
            holder = self.client.provider_by_name(ident.name)
            if holder is None or holder["uuid"] == ident.uuid:
                raise _Stale(ident.name) from exc  # a concurrent run created it: start over
            raise ForeignProvider(
                f"a provider named {ident.name!r} already exists ({holder['uuid']}) outside the tree "
                "of its compute node: it was not created by pmem-placement; rename or remove it"
            ) from exc
