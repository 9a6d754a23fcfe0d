"""``plan(current, desired)``: the ordered operations that bring Placement to the desired state.

Pure: no I/O, no clock, no logging. The rules that keep everyone's data:

- a class that has allocations is never removed: it is *retired* (reserved = total) until its
  consumers are gone, then removed by a later plan;
- the provider is deleted only when nothing is desired and nothing is allocated from it;
- an older PMEM provider of the same compute node (renamed compute node, 0.1.0 identity) is
  retired the same way and deleted once free;
- units still in use where the host no longer offers them are reserved on today's classes
  (``reservations``), so that Placement never offers a namespace twice: a class that took
  namespaces from a class in use reserves as many of them as that class's consumers may hold
  (``taken``, from the namespaces each class's consumers may hold, remembered by ``holders``);
  where that is not known (no state directory, an older provider), the units beyond a class's
  new total are reserved on the classes that grew;
- fenced (another provider of the tree reports PMEM): every class reserved = total, nothing created;
- nothing is written when nothing differs.

Order matters for crash safety: resource classes and traits exist before they are used, and a
new provider gets its managed trait before any inventory, so a half-finished first sync leaves
either nothing or a provider that is recognisably ours.
"""

import dataclasses
import typing

from pmem_placement.desired import Current
from pmem_placement.desired import Desired
from pmem_placement.desired import Inventories
from pmem_placement.desired import aside_name
from pmem_placement.ops import Change
from pmem_placement.ops import CreateProvider
from pmem_placement.ops import DeleteProvider
from pmem_placement.ops import EnsureResourceClasses
from pmem_placement.ops import EnsureTraits
from pmem_placement.ops import Operation
from pmem_placement.ops import RenameProvider
from pmem_placement.ops import RetireProvider
from pmem_placement.ops import SetInventories
from pmem_placement.ops import SetTraits
from pmem_placement.ops import changes

__all__ = [
    "Change", "CreateProvider", "DeleteProvider", "EnsureResourceClasses", "EnsureTraits", "Holders", "Operation",
    "RenameProvider", "RetireProvider", "SetInventories", "SetTraits", "changes", "holders", "needs_usages",
    "offers_more", "plan", "reservations", "taken",
]


Holders = typing.Mapping[str, frozenset[str]]
"""Resource class -> the namespaces its consumers may hold (names)."""


def needs_usages(
    current: Current | None, desired: Desired | None, stale: bool = False, previous: Holders | None = None
) -> bool:
    """Whether planning must know usages: when a class (or the provider) may go, a class
    shrinks, a class carries a reservation to reconsider, an older provider holds units, or a
    namespace left the class whose consumers may hold it."""
    if current is None:
        return False
    if desired is None or stale:
        return True
    if previous is not None and desired.namespaces is not None:
        if any(names - desired.namespaces.get(rc, frozenset()) for rc, names in previous.items()):
            return True
    for rc, inv in current.inventories.items():
        wanted = desired.inventories.get(rc)
        if wanted is None or wanted.total < inv.total or inv.reserved > 0:
            return True
    return False


def _in_use(current: Current, rc: str) -> int:
    if current.usages is None:
        raise ValueError("usages must be read before planning a removal")
    return current.usages.get(rc, 0)


def holders(
    previous: Holders | None,
    assignment: typing.Mapping[str, frozenset[str]] | None,
    usages: typing.Mapping[str, int] | None,
) -> dict[str, frozenset[str]] | None:
    """What to remember for the next run: the namespaces each class's consumers may hold.

    A class without consumers holds nothing but its namespaces of today; a class in use (or
    whose usages were not read) may also hold every namespace it had since it was last free.
    None when today's assignment is not known."""
    if assignment is None:
        return None
    previous = previous or {}
    result = {}
    for rc in sorted(set(previous) | set(assignment)):
        now = assignment.get(rc, frozenset())
        in_use = usages is None or usages.get(rc, 0) > 0
        names = previous.get(rc, frozenset()) | now if in_use else now
        if names:
            result[rc] = names
    return result


def taken(
    previous: Holders, assignment: typing.Mapping[str, frozenset[str]], used: typing.Mapping[str, int]
) -> dict[str, dict[str, frozenset[str]]]:
    """Class D -> class C -> the namespaces D has today that C's consumers may hold (C in use)."""
    result: dict[str, dict[str, frozenset[str]]] = {}
    for c, names in sorted(previous.items()):
        if used.get(c, 0) <= 0:
            continue
        for d, now in sorted(assignment.items()):
            if d != c and names & now:
                result.setdefault(d, {})[c] = names & now
    return result


def reservations(
    totals: typing.Mapping[str, int],
    before: Inventories,
    used: typing.Mapping[str, int],
    held_elsewhere: typing.Mapping[str, int],
    took: typing.Mapping[str, typing.Mapping[str, frozenset[str]]] | None = None,
    known: typing.AbstractSet[str] = frozenset(),
) -> dict[str, int]:
    """The remap rule: units to reserve on each desired class so that namespaces still in use
    where they are no longer offered are not offered a second time.

    ``took`` (from ``taken``): a class D that took namespaces from a class C in use reserves
    min(units in use on C, namespaces it took from C), summed over C; ``known``: the classes
    whose consumers' namespaces are known this way. For the others:

    ``totals``: desired class -> namespaces; ``before``: today's provider as it is; ``used``:
    its usages; ``held_elsewhere``: class -> units in use on a retiring class or on an older
    provider. Units held beyond a class's new total (it shrank below its usage) count as held
    elsewhere too. Each held unit is reserved on a class with free units: first on the same
    class (an older provider's units), then on the classes that took the namespaces, that is
    the classes already reserving, then those that grew most, then by name. A class never
    reserves units its own consumers use. When every free unit is reserved and some held units
    are still not covered, Placement was overcommitted before: nothing more can be closed.
    """
    free = _free(totals, used)
    reserved = dict.fromkeys(totals, 0)
    reserved.update(remapped(totals, used, took or {}))
    pool = sum(max(0, used.get(rc, 0) - total) for rc, total in totals.items() if rc not in known)
    for rc, units in sorted(held_elsewhere.items()):
        if rc in totals:
            take = min(units, free[rc] - reserved[rc])
            reserved[rc] += take
            units -= take
        pool += units

    def order(rc: str) -> tuple[int, int, str]:
        old = before.get(rc)
        return (-(old.reserved if old and not old.retiring else 0), -(totals[rc] - (old.total if old else 0)), rc)

    for rc in sorted(totals, key=order):
        take = min(pool, free[rc] - reserved[rc])
        reserved[rc] += take
        pool -= take
    return reserved


def _free(totals: typing.Mapping[str, int], used: typing.Mapping[str, int]) -> dict[str, int]:
    return {rc: max(0, total - used.get(rc, 0)) for rc, total in totals.items()}


def remapped(totals: typing.Mapping[str, int], used: typing.Mapping[str, int],
             took: typing.Mapping[str, typing.Mapping[str, frozenset[str]]]) -> dict[str, int]:
    """The part of the remap rule that is known by name: a class D that took namespaces from a
    class C in use reserves min(units in use on C, namespaces it took from C), summed over C,
    within its free units."""
    free = _free(totals, used)
    return {d: min(free[d], sum(min(used.get(c, 0), len(ns)) for c, ns in by_class.items()))
            for d, by_class in took.items() if d in totals}


def _retire_or_delete(old: Current) -> list[Operation]:
    """An older PMEM provider of ours: deleted when free, else only its classes in use, retired."""
    used = {rc: inv.retired() for rc, inv in old.inventories.items() if _in_use(old, rc) > 0}
    if not used:
        return [DeleteProvider(old.identity)]
    if used == dict(old.inventories):
        return []
    return [RetireProvider(old.identity, old.generation, old.inventories, used, old.usages or {})]


def _held(stale: typing.Sequence[Current]) -> tuple[dict[str, int], list[str]]:
    held: dict[str, int] = {}
    where = []
    for old in stale:
        units = 0
        for rc in old.inventories:
            n = _in_use(old, rc)
            if n > 0:
                held[rc] = held.get(rc, 0) + n
                units += n
        if units:
            where.append(f"{units} on {old.identity.name}")
    return held, where


def plan(
    current: Current | None,
    desired: Desired | None,
    stale: typing.Sequence[Current] = (),
    fence: str | None = None,
    previous: Holders | None = None,
) -> list[Operation]:
    """The operations, in order, that turn ``current`` into ``desired``; [] when in sync.

    ``stale``: older PMEM providers of ours in the tree, with usages. ``fence``: why PMEM must not
    be offered from here (another provider of the tree reports it), or None. ``previous``: the
    namespaces each class's consumers may hold, as remembered (``holders``); None when not
    known. Older providers are closed first, so that a run stopped half-way never offers more
    than before; one that holds today's name is first renamed out of its way.
    """
    ops = _older(stale, desired, fence)
    if fence is not None:
        return ops + _fenced(current, fence)
    if current is not None and current.usages is None and needs_usages(current, desired, bool(stale), previous):
        raise ValueError("usages must be read before planning this change")
    if desired is None:
        return ops + _nothing_desired(current)
    return ops + _provider(current, desired) + _inventories(current, desired, stale, previous)


def _older(stale: typing.Sequence[Current], desired: Desired | None, fence: str | None) -> list[Operation]:
    ops: list[Operation] = []
    for old in stale:
        retire = _retire_or_delete(old)
        if (desired is not None and fence is None and old.identity.name == desired.identity.name
                and not any(isinstance(op, DeleteProvider) for op in retire)):
            aside = dataclasses.replace(old.identity, name=aside_name(old.identity.name, old.identity.uuid))
            ops.append(RenameProvider(aside, old.identity.name, "older PMEM provider of this compute node: "
                                      "it leaves today's name to today's provider"))
        ops += retire
    return ops


def _fenced(current: Current | None, fence: str) -> list[Operation]:
    """Every class reserved = total, allocations kept; nothing created."""
    if current is None:
        return []
    after = {rc: inv.retired() for rc, inv in current.inventories.items()}
    if after == dict(current.inventories):
        return []
    notes = {rc: f"fenced: {fence}" for rc, inv in current.inventories.items() if not inv.retiring}
    return [SetInventories(current.identity, current.inventories, after, current.usages or {}, notes)]


def _nothing_desired(current: Current | None) -> list[Operation]:
    """Deleted when nothing is allocated from it; else its classes in use retired, the rest removed."""
    if current is None:
        return []
    used = {rc: inv.retired() for rc, inv in current.inventories.items() if _in_use(current, rc) > 0}
    if not used:
        return [DeleteProvider(current.identity)]
    if used == dict(current.inventories):
        return []
    return [SetInventories(current.identity, current.inventories, used, current.usages or {})]


def _provider(current: Current | None, desired: Desired) -> list[Operation]:
    """Classes and traits first, then the provider, its name and its traits (crash safety)."""
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
    elif current.identity.name != desired.identity.name:
        ops.append(RenameProvider(desired.identity, current.identity.name))
    if desired.traits != cur_traits:
        ops.append(SetTraits(desired.identity, cur_traits, desired.traits))
    return ops


def _inventories(current: Current | None, desired: Desired, stale: typing.Sequence[Current],
                 previous: Holders | None) -> list[Operation]:
    """Today's classes, classes in use retired, and the remap rule's reservations."""
    cur_inv: Inventories = current.inventories if current else {}
    after = dict(desired.inventories)
    usages: typing.Mapping[str, int] = (current.usages or {}) if current is not None else {}
    known = frozenset(previous or ()) if previous is not None and desired.namespaces is not None else frozenset()
    took = taken({rc: previous[rc] for rc in known} if previous else {}, desired.namespaces or {}, usages)
    held, where = _held(stale)
    if current is not None:
        for rc, inv in current.inventories.items():
            if rc not in desired.inventories and _in_use(current, rc) > 0:
                after[rc] = inv.retired()
                if rc not in known:
                    held[rc] = held.get(rc, 0) + _in_use(current, rc)
                    where.append(f"{_in_use(current, rc)} under retiring {rc}")
    for rc, inv in desired.inventories.items():
        if usages.get(rc, 0) > inv.total and rc not in known:
            where.append(f"{usages[rc] - inv.total} beyond the new total of {rc}")
    totals = {rc: inv.total for rc, inv in desired.inventories.items()}
    reserve = reservations(totals, cur_inv, usages, held, took, known)
    by_name = remapped(totals, usages, took)
    notes = {}
    for rc, units in reserve.items():
        if units:
            after[rc] = dataclasses.replace(after[rc], reserved=units)
            notes[rc] = _note(rc, units, took.get(rc, {}), by_name.get(rc, 0), usages, where)
    if after == dict(cur_inv):
        return []
    return [SetInventories(desired.identity, cur_inv, after, usages, notes)]


def _note(rc: str, units: int, took: typing.Mapping[str, frozenset[str]], by_name: int,
          usages: typing.Mapping[str, int], where: list[str]) -> str:
    """Why ``units`` of ``rc`` are reserved: namespaces it took from classes in use (``by_name``
    of the units), and namespaces still in use elsewhere (the rest)."""
    reasons = [f"it took {', '.join(sorted(ns))} from {c}, whose {usages.get(c, 0)} in use may be there"
               for c, ns in took.items()]
    if units > by_name:
        reasons.append(f"namespaces it took are still in use elsewhere ({', '.join(where)})")
    return f"{units} reserved: {'; '.join(reasons)}, released once free"


def offers_more(ops: typing.Iterable[Operation]) -> bool:
    """Whether the operations would let Placement offer more PMEM than before: a new provider,
    or a class whose free units (total - reserved) grow."""
    for op in ops:
        if isinstance(op, CreateProvider):
            return True
        if isinstance(op, SetInventories):
            for rc, inv in op.after.items():
                old = op.before.get(rc)
                if inv.total - inv.reserved > (old.total - old.reserved if old else 0):
                    return True
    return False
