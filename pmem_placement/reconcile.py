"""Read -> plan -> apply: bring Placement's PMEM provider to what the host has.

Discovery and the whole reconcile run under the state directory's lock, so the last writer
always wrote from the newest discovery. One attempt reads the compute node's tree (one request);
in full (the one-shot, and the agent at least every [agent]verify_interval) it then reads the
provider's inventory, traits and usages and every other provider's inventory; otherwise it
trusts what it remembers of each provider whose generation is unchanged and reads only what it
must; a plan that would offer more (a new provider, more free units) first reads the other
providers again. It plans, and writes with the generation it read. A conflict (someone else
wrote first) starts the attempt over from fresh reads, under the retry policy. Any other
provider of the tree that reports PMEM (nova's [libvirt]pmem_namespaces) fences ours. The
compute node provider itself is only ever read.
"""

import dataclasses
import random
import time
import typing

from pmem_placement import desired as desired_mod
from pmem_placement import fence as fence_mod
from pmem_placement import mapping
from pmem_placement import plan as plan_mod
from pmem_placement.desired import Current
from pmem_placement.desired import Identity
from pmem_placement.errors import ConflictsDidNotSettle
from pmem_placement.errors import Fenced
from pmem_placement.errors import ForeignProvider
from pmem_placement.errors import NameTaken
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
    namespaces: typing.Mapping[str, typing.Sequence[str]] | None = None
    """Resource class -> the names of its namespaces; None when not known (then the remap rule
    falls back to counts)."""

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
        clock: typing.Callable[[], float] = time.time,
        verify_interval: float = 600,
    ) -> None:
        self.client = client
        self.store = store
        self.policy = policy
        self.sleep = sleep
        self.rng = rng
        self.clock = clock
        self.verify_interval = verify_interval

    def run(
        self,
        spec: HostSpec | typing.Callable[[], HostSpec],
        dry_run: bool = False,
        trust_cache: bool = False,
    ) -> Outcome:
        """Reconcile once. ``spec`` may be a callable (discovery): it is called under the lock.

        ``trust_cache`` (the agent): trust remembered generations, but read in full when the last
        full read is older than ``verify_interval``. Without it (the one-shot) every run reads in
        full: its steady state costs a few requests and never a write.
        """
        if dry_run:
            return self._run(spec, dry_run, trust_cache)
        with self.store.lock():
            return self._run(spec, dry_run, trust_cache)

    def _run(self, source: HostSpec | typing.Callable[[], HostSpec], dry_run: bool, trust_cache: bool) -> Outcome:
        spec = source if isinstance(source, HostSpec) else source()
        cache = self.store.load(self.client.endpoint, spec.lookup)
        now = self.clock()
        full = not trust_cache or cache is None or cache.verified_at is None or not (
            0 <= now - cache.verified_at < self.verify_interval)
        delays = self.policy.delays(self.rng)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(spec, cache, dry_run, full, now if full and trust_cache else None)
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

    def _read_child(self, seen: Identity, generation: int, cache: Cache, full: bool) -> Current:
        child = cache.child
        if not full and child is not None and child.identity == seen and child.generation == generation:
            # The generation proves inventory and traits unchanged, but not usages:
            # deleting an allocation leaves the generation as it was.
            return dataclasses.replace(child, usages=None)
        inv_gen, inventories = self.client.inventories(seen.uuid)
        traits_gen, traits = self.client.traits(seen.uuid)
        if inv_gen != traits_gen:
            raise _Stale(seen.name)
        return Current(seen, traits_gen, inventories, traits)

    def _read_usages(self, current: Current) -> Current:
        usage_gen, usages = self.client.usages(current.identity.uuid)
        if usage_gen != current.generation:
            raise _Stale(current.identity.name)
        return dataclasses.replace(current, usages=usages)

    def _neighbours(
        self, root: Root, providers: list[dict[str, typing.Any]], cache: Cache, full: bool
    ) -> tuple[list[Current], dict[str, frozenset[str]]]:
        """The other providers of the tree: older PMEM providers of ours (read in full, with
        usages), and the PMEM classes of every provider we do not own (name -> classes). What is
        remembered of a provider whose generation is unchanged is trusted unless ``full``."""
        stale: list[Current] = []
        foreign: dict[str, frozenset[str]] = {}
        others: dict[str, tuple[int, frozenset[str]]] = {}
        for p in providers:
            uuid, name, listed = p["uuid"], p["name"], p["generation"]
            seen = None if full else cache.others.get(uuid)
            if seen is not None and seen[0] == listed:
                classes = seen[1]
            else:
                gen, inventories = self.client.inventories(uuid)
                classes = desired_mod.pmem_classes(inventories)
                if uuid != root.uuid and (classes or desired_mod.may_be_ours(root.uuid, p)):
                    traits_gen, traits = self.client.traits(uuid)
                    if mapping.MANAGED_TRAIT in traits:
                        if traits_gen != gen:
                            raise _Stale(name)
                        ident = Identity(uuid, name, p.get("parent_provider_uuid") or root.uuid)
                        stale.append(self._read_usages(Current(ident, gen, inventories, traits)))
                        continue
            others[uuid] = (listed, classes)
            if classes:
                foreign[name] = classes
        cache.others = others
        return stale, foreign

    def _attempt(
        self, spec: HostSpec, cache: Cache | None, dry_run: bool, full: bool, verify_at: float | None
    ) -> Outcome:
        root = find_root(self.client, spec.host, spec.root_uuid, cache.root_uuid if cache else None)
        remembered = dataclasses.replace(cache) if cache is not None else None
        if cache is None or cache.root_uuid != root.uuid:
            cache = Cache(self.client.endpoint, spec.lookup, root.uuid)
        ident = desired_mod.identity_in_tree(root.uuid, root.name, root.tree)
        assignment = None if spec.namespaces is None else {
            rc: frozenset(names) for rc, names in spec.namespaces.items() if rc in spec.classes}
        want = desired_mod.desired(root.uuid, root.name, spec.classes, spec.traits, ident, assignment)
        previous = cache.holders if assignment is not None else None

        current = None
        neighbours = []
        for provider in root.tree:
            if provider["uuid"] == ident.uuid:
                seen = Identity(ident.uuid, provider["name"], provider.get("parent_provider_uuid") or root.uuid)
                current = self._read_child(seen, provider["generation"], cache, full)
            else:
                neighbours.append(provider)
        if current is not None and not (current.managed or current.blank):
            raise ForeignProvider(
                f"provider {current.identity.name!r} ({ident.uuid}) exists but lacks {mapping.MANAGED_TRAIT}: "
                "pmem-placement does not modify providers it does not manage"
            )
        stale, foreign = self._neighbours(root, neighbours, cache, full)
        for provider in neighbours:
            if provider["name"] == ident.name and not any(old.identity.uuid == provider["uuid"] for old in stale):
                raise ForeignProvider(
                    f"provider {ident.name!r} in the tree of {root.name!r} has uuid {provider['uuid']}, "
                    f"not {ident.uuid}: it was not created by pmem-placement and is left alone"
                )
        # Nothing configured here: ours offers nothing anyway (classes in use retired, the rest
        # removed), so there is nothing to fence, and handing PMEM over to nova ends cleanly.
        fence = fence_mod.reason(root.name, foreign) if want is not None else None
        if current is not None and current.usages is None and (
            full or (fence is None and plan_mod.needs_usages(current, want, bool(stale), previous))
        ):
            current = self._read_usages(current)

        # What we remember is exactly what we last wrote; new allocations move the generation
        # but change neither inventory nor traits. Anything else is another writer.
        remembered_child = remembered.child if remembered is not None else None
        if remembered_child is not None and remembered_child.identity.uuid == ident.uuid and (
            current is None or (current.inventories, current.traits)
            != (remembered_child.inventories, remembered_child.traits)
        ):
            cache.foreign_writes += 1
        else:
            cache.foreign_writes = 0

        ops = plan_mod.plan(current, want, stale, fence, previous)
        if not full and plan_mod.offers_more(ops):
            # Never offer more on the word of remembered generations: a forked history may have
            # given nova's PMEM classes a generation we remember without them. Read the other
            # providers again (writes are rare), then plan again.
            stale, foreign = self._neighbours(root, neighbours, cache, True)
            fence = fence_mod.reason(root.name, foreign) if want is not None else None
            if current is not None and current.usages is None and fence is None and plan_mod.needs_usages(
                    current, want, bool(stale), previous):
                current = self._read_usages(current)
            ops = plan_mod.plan(current, want, stale, fence, previous)
        aside: list[str] = []
        if not dry_run:
            if ops:
                cache.child = None
                # From here on Placement may differ from what we remember: keep only what the
                # remap rule needs, widened to what may be held whatever happens next.
                self.store.save(Cache(cache.endpoint, cache.lookup, cache.root_uuid,
                                      holders=plan_mod.holders(previous, assignment, None)))
                current = self._apply(ops, current, aside)
                if stale:
                    cache.others = {}  # older providers were written: look at them again
            cache.child = dataclasses.replace(current, usages=None) if current is not None else None
            cache.holders = plan_mod.holders(previous, assignment, (
                current.usages if current is not None else {}))
            if verify_at is not None:
                cache.verified_at = verify_at
            if cache != remembered:
                self.store.save(cache)  # steady state writes nothing, not even locally
        outcome = Outcome(ident, ops, current, cache.foreign_writes)
        if fence is not None:
            name = current.identity.name if current is not None else ident.name
            raise Fenced(fence_mod.message(fence, name, current is not None, bool(ops), dry_run,
                                           root.name in foreign), outcome)
        if aside:
            raise NameTaken(aside[0])
        return outcome

    def _apply(self, ops: list[plan_mod.Operation], current: Current | None, aside: list[str]) -> Current | None:
        for op in ops:
            if isinstance(op, plan_mod.EnsureResourceClasses):
                self.client.ensure_resource_classes(op.names)
            elif isinstance(op, plan_mod.EnsureTraits):
                self.client.ensure_traits(op.names)
            elif isinstance(op, plan_mod.CreateProvider):
                current = Current(op.identity, self._create(op.identity), usages={})
            elif isinstance(op, plan_mod.RenameProvider):
                if current is None or current.identity.uuid != op.identity.uuid:
                    self._rename(op.identity)  # an older provider leaves today's name
                else:
                    current = dataclasses.replace(current, identity=self._rename(op.identity, op.before, aside))
            elif isinstance(op, plan_mod.SetTraits):
                assert current is not None
                gen = self.client.set_traits(op.identity.uuid, current.generation, op.after)
                current = dataclasses.replace(current, generation=gen, traits=op.after)
            elif isinstance(op, plan_mod.SetInventories):
                assert current is not None
                gen = self.client.set_inventories(op.identity.uuid, current.generation, op.after)
                current = dataclasses.replace(current, generation=gen, inventories=op.after)
            elif isinstance(op, plan_mod.RetireProvider):
                self.client.set_inventories(op.identity.uuid, op.generation, op.after)
            elif isinstance(op, plan_mod.DeleteProvider):
                self.client.delete_provider(op.identity.uuid)
                if current is not None and current.identity.uuid == op.identity.uuid:
                    current = None
        return current

    def _rename(self, ident: Identity, before: str | None = None, aside: list[str] | None = None) -> Identity:
        """Rename; returns the identity as renamed. When the name is held by another compute
        node's PMEM provider (two hosts swapped names), ours steps aside to a unique name, so
        that the other host's next run can take ours, and the next run here takes its own."""
        try:
            self.client.rename_provider(ident.uuid, ident.name, ident.parent_uuid)
            return ident
        except perrors.DuplicateName as exc:
            holder = self.client.provider_by_name(ident.name)
            if (holder is not None and aside is not None and before is not None
                    and holder.get("parent_provider_uuid") not in (None, ident.parent_uuid)
                    and mapping.MANAGED_TRAIT in self.client.traits(holder["uuid"])[1]):
                temporary = dataclasses.replace(ident, name=desired_mod.aside_name(ident.name, ident.uuid))
                if before != temporary.name:
                    self.client.rename_provider(ident.uuid, temporary.name, ident.parent_uuid)
                aside.append(
                    f"the PMEM provider {ident.uuid} is named {temporary.name!r} for now: {ident.name!r} "
                    f"is still the PMEM provider of another compute node ({holder['uuid']}; two hosts "
                    "swapped names?); its inventory is up to date, and once that host's "
                    f"pmem-placement has renamed its own, the next run here takes {ident.name!r}")
                return temporary
            raise ForeignProvider(
                f"cannot rename the PMEM provider {ident.uuid} to {ident.name!r} after its compute node "
                f"was renamed: a provider of that name already exists"
                f"{' (' + holder['uuid'] + ')' if holder else ''}; rename or remove it"
            ) from exc

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
