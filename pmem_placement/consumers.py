"""Who holds PMEM from our provider: warn about nova instances, which get nothing attached.

nova's libvirt driver attaches a namespace to a guest only for PMEM it reports itself
(``[libvirt]pmem_namespaces``, on the compute node's root provider):
``ResourceTracker._claim_resources`` (``nova/compute/resource_tracker.py``) skips classes that
are not in a provider's ``resources``, which only the libvirt driver fills, for the root. An
instance that Placement scheduled onto our child provider therefore holds the unit for its whole
life with no nvdimm device in the guest. Each such consumer is warned about once, by uuid.

Which consumers may be nova's instances: nova's report client (``claim_resources`` in
``nova/scheduler/client/report.py``) writes allocations at microversion 1.36 (1.28 for moves)
and never sends ``consumer_type``, so Placement shows nova's instances, and nova's migration
records, as type ``unknown``. A consumer of type ``unknown`` or ``INSTANCE`` is warned about,
with its type named; a consumer with another explicit type (``MIGRATION``, or a type an
external consumer chose) is not: its writer said what it is, and a migration's instance is
warned about where it holds its own allocation.

Requests: ``GET /resource_providers/{uuid}/allocations``, then ``GET /allocations/{consumer}`` at
microversion 1.38 (which carries ``consumer_type``) for each consumer holding PMEM whose type
is not known yet (a consumer's type is remembered by uuid while it holds PMEM). They are
sent only when the provider's generation moved since the last check (new allocations move
it), not counting our own writes (each moves it by exactly one). The agent keeps that memory in the process and warns once per instance; the one-shot keeps
it in ``<state_dir>/consumers.json`` and, to warn on every run, also looks again while instances
were found last time (a deletion does not move the generation).
"""

import dataclasses
import json
import os
import typing

from oslo_log import log as logging

from pmem_placement import errors
from pmem_placement import mapping
from pmem_placement import plan as plan_mod
from pmem_placement import statedir
from pmem_placement.placement import errors as perrors
from pmem_placement.placement.client import Client

LOG = logging.getLogger(__name__)
INSTANCE = "INSTANCE"
UNKNOWN = "unknown"
"""Placement's type for a consumer written without one, as nova writes all of its consumers."""
MAYBE_NOVA = (INSTANCE, UNKNOWN)


@dataclasses.dataclass(frozen=True)
class Guest:
    consumer: str
    resources: typing.Mapping[str, int]
    consumer_type: str | None = INSTANCE
    """INSTANCE or unknown; None when Placement is older than microversion 1.38 and cannot say."""

    @property
    def type_known(self) -> bool:
        return self.consumer_type is not None


def nova_guests(client: Client, provider_uuid: str,
                types: dict[str, str] | None = None) -> list[Guest]:
    """Consumers holding PMEM from the provider that may be nova's instances: of type INSTANCE
    or unknown (with a Placement too old to tell types, every consumer holding PMEM).

    ``types``, consumer uuid -> type, is read and updated: a consumer's type is asked once.
    It keeps only the consumers holding PMEM now."""
    types = {} if types is None else types
    guests = []
    holding = set()
    for consumer, resources in sorted(client.provider_allocations(provider_uuid).items()):
        pmem = mapping.pmem_only(dict(sorted(resources.items())))
        if not pmem:
            continue
        holding.add(consumer)
        consumer_type = types.get(consumer)
        if consumer_type is None:
            try:
                consumer_type = client.consumer_type(consumer) or UNKNOWN
            except perrors.VersionTooOld:
                guests.append(Guest(consumer, pmem, consumer_type=None))
                continue
            types[consumer] = consumer_type
        if consumer_type in MAYBE_NOVA:
            guests.append(Guest(consumer, pmem, consumer_type))
    for gone in set(types) - holding:
        del types[gone]
    return guests


def warning(guest: Guest, provider_name: str) -> str:
    held = ", ".join(f"{rc}={n}" for rc, n in guest.resources.items())
    if guest.consumer_type == INSTANCE:
        who = f"nova instance {guest.consumer}"
    elif guest.consumer_type == UNKNOWN:
        who = f"consumer {guest.consumer} (type unknown, as nova writes its instances)"
    else:
        who = (f"consumer {guest.consumer} (a nova instance? Placement older than microversion 1.38 cannot "
               "say)")
    return (f"{who} holds {held} from {provider_name}, but nova does not attach "
            "namespaces from a provider it does not manage: the guest has no nvdimm device for it. Give "
            "nova's guests PMEM with nova's own [libvirt]pmem_namespaces and hw:pmem (see docs/nova.md, "
            "'Who consumes this inventory')")


@dataclasses.dataclass
class Memory:
    provider: str | None = None
    generation: int | None = None
    instances: list[str] = dataclasses.field(default_factory=list)
    types: dict[str, str] = dataclasses.field(default_factory=dict)
    """Consumer uuid -> consumer type, for the consumers holding PMEM at the last check."""


class GuestWatch:
    """Decides when to look, looks, and says which consumers are new."""

    def __init__(self, memory: Memory | None = None, recheck_known: bool = False) -> None:
        self.memory = memory or Memory()
        self.recheck_known = recheck_known
        """Look again while instances were found last time: the one-shot warns on every run. The
        agent warns once per instance and keeps its steady cycle at one request."""
        self.warned: set[str] = set()

    def due(self, provider: str, generation: int) -> bool:
        m = self.memory
        return (m.provider, m.generation) != (provider, generation) or (self.recheck_known and bool(m.instances))

    def check(self, client: Client, provider: str, generation: int) -> list[Guest] | None:
        """The instances holding PMEM now, or None when nothing can have changed."""
        if not self.due(provider, generation):
            return None
        types = dict(self.memory.types) if self.memory.provider == provider else {}
        guests = nova_guests(client, provider, types)
        self.memory = Memory(provider, generation, [g.consumer for g in guests], types)
        return guests


def warn_after(client: Client, outcome: typing.Any, watch: GuestWatch, only_new: bool,
               dry_run: bool = False) -> list[str]:
    """Log a warning for each instance on the provider of a reconcile ``Outcome``; the messages.
    A failure to look is logged, never raised: the reconcile itself has succeeded."""
    current = outcome.current
    if current is None or not current.inventories:
        return []
    name = current.identity.name
    uuid = current.identity.uuid
    if not dry_run and any(isinstance(op, plan_mod.CreateProvider) for op in outcome.ops):
        # Created by this run, inventory written last: nothing was allocated before it, and an
        # allocation after it moves the generation.
        watch.memory = Memory(uuid, current.generation, [])
        return []
    writes = 0 if dry_run else sum(isinstance(op, (plan_mod.SetTraits, plan_mod.SetInventories))
                                   for op in outcome.ops)
    m = watch.memory
    if writes and (m.provider, m.generation) == (uuid, current.generation - writes) and not m.instances:
        # Each of our writes moved the generation by exactly one, and the generation we read
        # was the one last checked: no allocation came in between.
        watch.memory = Memory(uuid, current.generation, [], m.types)
    try:
        guests = watch.check(client, current.identity.uuid, current.generation)
    except errors.PmemPlacementError as exc:
        LOG.warning("could not check who holds PMEM from %s: %s", name, exc)
        return []
    messages = []
    for guest in guests or []:
        if only_new and guest.consumer in watch.warned:
            continue
        watch.warned.add(guest.consumer)
        messages.append(warning(guest, name))
        LOG.warning("%s", messages[-1])
    if guests is not None:
        watch.warned &= {g.consumer for g in guests}
    return messages


def warn_all(client: Client, provider_uuid: str, provider_name: str) -> list[str]:
    """``pmem-placement show``: warn about every instance on the provider, now."""
    try:
        guests = nova_guests(client, provider_uuid)
    except errors.PmemPlacementError as exc:
        LOG.warning("could not check who holds PMEM from %s: %s", provider_name, exc)
        return []
    messages = [warning(guest, provider_name) for guest in guests]
    for message in messages:
        LOG.warning("%s", message)
    return messages


NAME = "consumers.json"


def load(state_dir: str | None) -> GuestWatch:
    """What the last one-shot found; nothing (look again) when there is no file, or when it is
    damaged, or cannot be read or trusted (a warning names it then)."""
    memory, problem = Memory(), None
    try:
        text = statedir.read_entry(state_dir, NAME) if state_dir else None
        if text is not None:
            data = json.loads(text)
            memory = Memory(str(data["provider"]), int(data["generation"]), [str(c) for c in data["instances"]],
                            {str(c): str(t) for c, t in data.get("types", {}).items()})
    except statedir.StateDirError as exc:
        problem = exc
    except (ValueError, KeyError, TypeError):
        pass
    if problem is not None:  # outside the except block: no exception summary appended
        LOG.warning("%s; the consumers are looked up again", problem)
    return GuestWatch(memory, recheck_known=True)


def save(state_dir: str | None, watch: GuestWatch) -> None:
    if state_dir and watch.memory.provider is not None:
        text = json.dumps(dataclasses.asdict(watch.memory)) + "\n"
        problem: Exception | None = None
        try:
            statedir.replace_entry(state_dir, NAME, text, 0o640)
        except (OSError, statedir.StateDirError) as exc:
            problem = exc
        if isinstance(problem, statedir.StateDirError):  # someone put it there: say so
            LOG.warning("%s; the consumer check is not remembered", problem)
        elif problem is not None:  # a cache: the previous file stays whole, the next run looks again
            LOG.warning("%s; the consumers are looked up again next time",
                        errors.cannot_write("the consumer check", os.path.join(state_dir, NAME), problem))


def after_one_shot(state_dir: str | None, client: Client, outcome: typing.Any, dry_run: bool = False) -> list[str]:
    """``pmem-placement reconcile``: warn about every instance on the provider, each run."""
    watch = load(state_dir)
    remembered = dataclasses.replace(watch.memory)
    messages = warn_after(client, outcome, watch, only_new=False, dry_run=dry_run)
    if watch.memory != remembered and not dry_run:  # a dry run writes nothing, not even locally
        save(state_dir, watch)
    return messages
