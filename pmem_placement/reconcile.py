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

from pmem_placement import fence as fence_mod
from pmem_placement import mapping
from pmem_placement import plan as plan_mod
from pmem_placement import reads
from pmem_placement import remap
from pmem_placement import tree as tree_mod
from pmem_placement.apply import Applier
from pmem_placement.attempt import Goal
from pmem_placement.attempt import HostSpec
from pmem_placement.attempt import Seen
from pmem_placement import desired as desired_mod
from pmem_placement.desired import Current
from pmem_placement.desired import Identity
from pmem_placement.errors import ConfigError
from pmem_placement.errors import ConflictsDidNotSettle
from pmem_placement.errors import Fenced
from pmem_placement.errors import ForeignProvider
from pmem_placement.errors import MemoryNotRecorded
from pmem_placement.errors import NamespacesWithdrawn
from pmem_placement.errors import NameTaken
from pmem_placement.errors import NameTooLong
from pmem_placement.placement import errors as perrors
from pmem_placement.placement.client import Client
from pmem_placement.read import find_root
from pmem_placement.retry import RetryPolicy
from pmem_placement.state import Cache
from pmem_placement.state import StateStore
from pmem_placement.tree import Root

__all__ = ["HostSpec", "Outcome", "Reconciler", "Root", "another_writer_warning", "find_root"]


@dataclasses.dataclass(frozen=True)
class Outcome:
    identity: Identity | None
    ops: list[plan_mod.Operation]
    current: Current | None
    """The provider after this run's writes (or as read, when nothing was written)."""
    foreign_writes: int = 0
    """Consecutive runs, this one included, that found another writer's changes on the provider."""
    failsafe: plan_mod.FailSafe | None = None
    """Consumers placed while the memory was unknown, for whom units are withheld."""
    recreated: typing.Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    """Held namespaces destroyed and re-created under the same name: name -> (old, new uuid)."""
    warnings: tuple[str, ...] = ()
    """Unhealthy namespaces offered all the same ([pmem]unhealthy = offer)."""
    namespaces: typing.Mapping[str, typing.Mapping[str, typing.Any]] = dataclasses.field(default_factory=dict)
    """Configured namespace -> offered or not, its health and why (``HostSpec.report``)."""
    usages_read: bool = False
    """Whether ``current.usages`` were read from Placement by this run (else remembered, or None)."""

    @property
    def withheld(self) -> dict[str, int]:
        """Class -> units the fail-safe withholds (0 classes left out)."""
        if self.failsafe is None or self.current is None:
            return {}
        totals = {rc: inv.total for rc, inv in self.current.inventories.items()}
        return plan_mod.failsafe_units(totals, self.failsafe.held)

    @property
    def another_writer(self) -> bool:
        """Twice in a row: not an operator's one-off edit but a second pmem-placement."""
        return self.foreign_writes >= 2


def withdrawn_message(problems: typing.Sequence[str], held_back: typing.Sequence[str]) -> str:
    """The error of a run with configured namespaces that are not offered."""
    also = f"; {', '.join(held_back)} {'is' if len(held_back) == 1 else 'are'} held back too" if held_back else ""
    return (f"{mapping.OPTION}: " + "; ".join(problems) + f" (their units are withdrawn{also}; nothing else "
            "changes until each is back and healthy, or dropped from [pmem]namespaces)")


def another_writer_warning(host: str, outcome: "Outcome") -> str:
    name = outcome.identity.name if outcome.identity else f"{host}:pmem"
    return (
        f"{name} keeps being changed by another writer, and each run sets it back: either "
        f"[DEFAULT]host {host!r} is configured on more than one host (give each host its own name, "
        "nova's [DEFAULT]host), or two writers run on this host with different mappings (two "
        "agents, or the agent and a one-shot with other configuration files): stop the other writer"
    )


def _held_back(report: typing.Mapping[str, typing.Mapping[str, typing.Any]],
               held_back: typing.Collection[str]) -> dict[str, typing.Mapping[str, typing.Any]]:
    """The namespaces' report, those of a class held back marked not offered, saying why."""
    why = "held back: its class is not offered more while other configured namespaces are withdrawn"
    return {name: {**entry, "offered": False, "why": why} if entry["offered"] and entry["resource_class"] in held_back
            else entry for name, entry in report.items()}


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
        self.end_failsafe = False

    def run(
        self,
        spec: HostSpec | typing.Callable[[], HostSpec],
        dry_run: bool = False,
        trust_cache: bool = False,
        end_failsafe: bool = False,
    ) -> Outcome:
        """Reconcile once. ``spec`` may be a callable (discovery): it is called under the lock.

        ``trust_cache`` (the agent): trust remembered generations, but read in full when the last
        full read is older than ``verify_interval``. Without it (the one-shot) every run reads in
        full: its steady state costs a few requests and never a write. ``end_failsafe``: the
        operator asserts that the consumers holding PMEM now were placed under today's mapping.
        """
        self.end_failsafe = end_failsafe
        if dry_run:
            return self._run(spec, dry_run, trust_cache)
        with self.store.lock():
            return self._run(spec, dry_run, trust_cache)

    def _run(self, source: HostSpec | typing.Callable[[], HostSpec], dry_run: bool, trust_cache: bool) -> Outcome:
        spec = source if isinstance(source, HostSpec) else source()
        cache = self.store.load(self.client.endpoint, spec.lookup)
        now = self.clock()
        full = reads.full_read(trust_cache, cache.verified_at if cache else None, now, self.verify_interval)
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

    def _attempt(
        self, spec: HostSpec, cache: Cache | None, dry_run: bool, full: bool, verify_at: float | None
    ) -> Outcome:
        """Read -> plan -> apply, then remember what was read and written."""
        root = find_root(self.client, spec.host, spec.root_uuid, cache.root_uuid if cache else None)
        remembered = dataclasses.replace(cache) if cache is not None else None
        lost = self.store.memory_lost
        if cache is None or cache.root_uuid != root.uuid:
            if cache is not None:
                lost = f"the state directory's memory is of another compute node ({cache.root_uuid})"
            cache = Cache(self.client.endpoint, spec.lookup, root.uuid)
        goal = Goal.of(spec, root, cache, self.end_failsafe)
        seen = self._read(root, goal, cache, full)
        too_long = desired_mod.name_too_long(root.name) if spec.classes else None  # removal renames nothing
        if too_long:
            if seen.current is None:
                raise ConfigError(f"{too_long}: nothing was written")
            raise NameTooLong(f"{too_long}: {seen.current.identity.name} is kept as it is")
        writer = reads.another_writer(remembered.child if remembered else None, seen.ident.uuid, seen.current)
        cache.foreign_writes = cache.foreign_writes + 1 if writer else 0
        seen.failsafe = self._failsafe(seen, goal, cache, lost or "the state directory did not know them")
        # unless the fail-safe's allocations gave them; the agent's verification reads them only
        # when the plan needs them (at most 4 requests), the one-shot's full read always
        seen = self._with_usages(seen, goal, full and verify_at is None)
        seen.recreated = remap.recreated(goal.previous, cache.uuids, spec.uuids,
                                         seen.current.usages if seen.current is not None else {})
        ops = self._plan(seen, goal, cache, full)
        applier = Applier(self.client)
        if not dry_run:
            self._apply(ops, seen, goal, cache, applier)
            if verify_at is not None:
                cache.verified_at = verify_at
            if cache != remembered:
                self.store.save(cache)  # steady state writes nothing, not even locally
        return self._outcome(seen, ops, cache, dry_run, applier.aside, spec)

    # read

    def _failsafe(self, seen: "Seen", goal: "Goal", cache: Cache, why: str) -> plan_mod.FailSafe | None:
        """The consumers that may hold any configured namespace, as they hold PMEM now: those
        placed while the memory was unknown (remembered in ``cache`` until they are gone, fenced
        or not, whatever is configured), and those of older providers of ours, whose namespaces
        were never remembered. Costs one request (allocations) per provider read for it: today's
        while the memory is unknown or such consumers remain, each older one in use."""
        if self.end_failsafe:
            cache.failsafe = cache.failsafe_why = None  # the operator asserts today's mapping
        consumers: dict[str, dict[str, int]] = {}
        if seen.current is None:
            cache.failsafe = cache.failsafe_why = None  # no provider: nobody holds anything from it
        elif not self.end_failsafe and (cache.failsafe or (goal.previous is None and goal.assignment is not None)):
            unknown = goal.previous is None and goal.assignment is not None
            pmem, usages = self._allocations(seen.current)
            seen.current = dataclasses.replace(seen.current, usages=usages)
            seen.usages_read = True
            consumers = remap.failsafe_consumers(pmem, cache.failsafe, unknown)
            cache.failsafe_why = why if unknown else cache.failsafe_why
            cache.failsafe = consumers or None
            cache.failsafe_why = cache.failsafe_why if consumers else None
        older = [old for old in seen.stale if any(n > 0 for n in (old.usages or {}).values())]
        for old in older:
            consumers.update(remap.failsafe_consumers(self._allocations(old)[0], None, True))
        if not consumers:
            return None
        reason = cache.failsafe_why or (f"the namespaces held on {', '.join(o.identity.name for o in older)} "
                                        "(an older provider of ours) were never remembered")
        return plan_mod.FailSafe(remap.held_by(consumers), tuple(sorted(consumers)), reason)

    def _allocations(self, provider: Current) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
        """Consumer -> its PMEM on ``provider``, and the provider's usages, at the generation read."""
        generation, allocations = self.client.allocations(provider.identity.uuid)
        if generation != provider.generation:
            raise perrors.Stale(provider.identity.name)
        return {c: mapping.pmem_only(r) for c, r in allocations.items()}, remap.held_by(allocations)

    def _read(self, root: Root, goal: "Goal", cache: Cache, full: bool) -> "Seen":
        """The tree as the plan needs it: today's provider, the older ones, who else reports PMEM
        (today's usages are read after, with the fail-safe's allocations when it needs them)."""
        ident = root.today()
        record, others = reads.partition(root.tree, ident.uuid)
        current = None
        if record is not None:
            named = Identity(ident.uuid, record["name"], record.get("parent_provider_uuid") or root.uuid)
            current = self._read_child(named, record["generation"], cache, full)
            if not tree_mod.todays_is_ours(current.traits, bool(current.inventories)):
                raise ForeignProvider(
                    f"provider {current.identity.name!r} ({ident.uuid}) exists but lacks {mapping.MANAGED_TRAIT}: "
                    "pmem-placement does not modify providers it does not manage"
                )
        stale, foreign = self._neighbours(root, ident, others, cache, full)
        for provider in others:
            if provider["name"] == ident.name and not any(old.identity.uuid == provider["uuid"] for old in stale):
                raise ForeignProvider(
                    f"provider {ident.name!r} in the tree of {root.name!r} has uuid {provider['uuid']}, "
                    f"not {ident.uuid}: it was not created by pmem-placement and is left alone"
                )
        return Seen(root, ident, current, others, stale, foreign, goal.fence(root.name, foreign))

    def _with_usages(self, seen: "Seen", goal: "Goal", full: bool) -> "Seen":
        if reads.usages_needed(seen.current, goal.want, bool(seen.stale), goal.previous, seen.fence, full):
            assert seen.current is not None
            seen.current = self._read_usages(seen.current)
            seen.usages_read = True
        return seen

    def _read_child(self, seen: Identity, generation: int, cache: Cache, full: bool) -> Current:
        child = cache.child
        if reads.child_known(child, seen, generation, full):
            assert child is not None
            # With the usages read at this generation, if any: a new allocation would have moved
            # it; one deleted may not have, so they are at least today's (released late, at the
            # next full read: never offered too early).
            return child
        inv_gen, inventories = self.client.inventories(seen.uuid)
        traits_gen, traits = self.client.traits(seen.uuid)
        if inv_gen != traits_gen:
            raise perrors.Stale(seen.name)
        return Current(seen, traits_gen, inventories, traits)

    def _read_usages(self, current: Current) -> Current:
        usage_gen, usages = self.client.usages(current.identity.uuid)
        if usage_gen != current.generation:
            raise perrors.Stale(current.identity.name)
        return dataclasses.replace(current, usages=usages)

    def _neighbours(
        self, root: Root, ident: Identity, providers: list[typing.Mapping[str, typing.Any]], cache: Cache, full: bool
    ) -> tuple[list[Current], dict[str, frozenset[str]]]:
        """The other providers of the tree (``tree.classify``): older PMEM providers of ours (read
        in full, with usages), and the PMEM classes of every provider we do not own (name ->
        classes). What is remembered of a provider whose generation is unchanged is trusted
        unless ``full``."""
        stale: list[Current] = []
        foreign: dict[str, frozenset[str]] = {}
        others: dict[str, tuple[int, frozenset[str]]] = {}
        for p in providers:
            uuid, name, listed = p["uuid"], p["name"], p["generation"]
            known = cache.others.get(uuid)
            if known is not None and reads.classes_known(known, listed, full):
                classes = known[1]
            else:
                gen, inventories = self.client.inventories(uuid)
                classes = frozenset(mapping.pmem_only(inventories))
                if tree_mod.needs_traits(root.uuid, ident.uuid, p, classes):
                    traits_gen, traits = self.client.traits(uuid)
                    if tree_mod.classify(root.uuid, ident.uuid, p, classes, traits) == tree_mod.OLDER:
                        if traits_gen != gen:
                            raise perrors.Stale(name)
                        old = Identity(uuid, name, p.get("parent_provider_uuid") or root.uuid)
                        stale.append(self._read_usages(Current(old, gen, inventories, traits)))
                        continue
            others[uuid] = (listed, classes)
            if classes:
                foreign[name] = classes
        cache.others = others
        return stale, foreign

    # plan

    def _plan(self, seen: "Seen", goal: "Goal", cache: Cache, full: bool) -> list[plan_mod.Operation]:
        ops = plan_mod.plan(seen.current, goal.want, seen.stale, seen.fence, goal.previous, seen.failsafe,
                            seen.recreated)
        if goal.problems:  # the mapping does not match the host: never offer more
            seen.held_back = plan_mod.raised(ops)
            return plan_mod.lowering_only(ops)
        if full or not plan_mod.offers_more(ops):
            return ops
        # Never offer more on the word of remembered generations: a forked history may have
        # given nova's PMEM classes a generation we remember without them. Read the other
        # providers again (writes are rare), then plan again.
        seen.stale, seen.foreign = self._neighbours(seen.root, seen.ident, seen.others, cache, True)
        seen.fence = goal.fence(seen.root.name, seen.foreign)
        self._with_usages(seen, goal, False)
        return plan_mod.plan(seen.current, goal.want, seen.stale, seen.fence, goal.previous, seen.failsafe,
                             seen.recreated)

    # apply

    def _apply(self, ops: list[plan_mod.Operation], seen: "Seen", goal: "Goal", cache: Cache,
               applier: Applier) -> None:
        if ops:
            cache.child = None
            # From here on Placement may differ from what we remember: keep only what the
            # remap rule needs, widened to what may be held whatever happens next.
            self.store.save(dataclasses.replace(cache.memory(cache.endpoint, cache.lookup),
                                                holders=plan_mod.holders(goal.previous, goal.assignment, None)))
            if self.store.problem and seen.may_be_held(cache) and not self.store.clear():
                raise MemoryNotRecorded(
                    f"{self.store.problem.split('; ')[0]}, nor removed: consumers hold PMEM here and the "
                    "memory of which namespaces they may hold could not be recorded, so nothing was "
                    "written to Placement; free the state directory (disk space, a read-only mount)")
            seen.current = applier.apply(ops, seen.current)
            if seen.stale:
                cache.others = {}  # older providers were written: look at them again
        current = seen.current
        cache.child = current  # its usages, when read, hold at its generation: a conflict would have stopped us
        # The memory forgets what a class held only on usages read now, never on remembered ones.
        fresh = current is None or seen.usages_read or any(isinstance(op, plan_mod.CreateProvider) for op in ops)
        cache.holders = plan_mod.holders(goal.previous, goal.assignment,
                                         (current.usages if current is not None else {}) if fresh else None)
        cache.uuids = remap.uuids_to_remember(cache.uuids, goal.uuids, seen.recreated, cache.holders)

    @staticmethod
    def _outcome(seen: "Seen", ops: list[plan_mod.Operation], cache: Cache, dry_run: bool,
                 aside: list[str], spec: HostSpec) -> Outcome:
        created = any(isinstance(op, plan_mod.CreateProvider) for op in ops) and not dry_run  # nothing used yet
        outcome = Outcome(seen.ident, ops, seen.current, cache.foreign_writes, seen.failsafe, seen.recreated,
                          spec.warnings, _held_back(spec.report, seen.held_back),
                          usages_read=seen.usages_read or created)
        if spec.problems:
            raise NamespacesWithdrawn(withdrawn_message(spec.problems, seen.held_back), outcome)
        if seen.fence is not None:
            name = seen.current.identity.name if seen.current is not None else seen.ident.name
            raise Fenced(fence_mod.message(seen.fence, name, seen.current is not None, bool(ops), dry_run,
                                           seen.root.name in seen.foreign), outcome)
        if aside:
            raise NameTaken(aside[0])
        return outcome
