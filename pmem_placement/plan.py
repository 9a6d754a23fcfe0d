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
- when that memory is unknown (lost, unreadable), the consumers holding units then may hold any
  configured namespace: each class withholds the units they hold on the other classes
  (``failsafe_units``), until they are gone;
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
from pmem_placement.remap import FailSafe
from pmem_placement.remap import Holders
from pmem_placement.remap import failsafe_units
from pmem_placement.remap import holders
from pmem_placement.remap import recreated_units
from pmem_placement.remap import remapped
from pmem_placement.remap import reservations
from pmem_placement.remap import taken

__all__ = [
    "Change", "CreateProvider", "DeleteProvider", "EnsureResourceClasses", "EnsureTraits", "Holders", "Operation",
    "FailSafe", "RenameProvider", "RetireProvider", "SetInventories", "SetTraits", "changes", "failsafe_units",
    "holders", "needs_usages", "offers_more", "plan", "remapped", "reservations", "taken",
]


def needs_usages(
    current: Current | None, desired: Desired | None, stale: bool = False, previous: Holders | None = None
) -> bool:
    """Whether planning must know usages: when a class (or the provider) may go, a class
    shrinks, a class carries a reservation to reconsider (beyond its withdrawn namespaces), an
    older provider holds units, or a namespace left the class whose consumers may hold it."""
    if current is None:
        return False
    if desired is None or stale:
        return True
    if previous is not None and desired.namespaces is not None:
        if any(names - desired.namespaces.get(rc, frozenset()) for rc, names in previous.items()):
            return True
    for rc, inv in current.inventories.items():
        wanted = desired.inventories.get(rc)
        # A reservation beyond the class's withdrawn namespaces may be released as consumers
        # leave; the withdrawn ones' do not depend on usages.
        if wanted is None or wanted.total < inv.total or inv.reserved > wanted.reserved:
            return True
    return False


def _in_use(current: Current, rc: str) -> int:
    if current.usages is None:
        raise ValueError("usages must be read before planning a removal")
    return current.usages.get(rc, 0)


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
    failsafe: FailSafe | None = None,
    recreated: typing.Mapping[str, tuple[str, str]] | None = None,
) -> list[Operation]:
    """The operations, in order, that turn ``current`` into ``desired``; [] when in sync.

    ``stale``: older PMEM providers of ours in the tree, with usages. ``fence``: why PMEM must not
    be offered from here (another provider of the tree reports it), or None. ``previous``: the
    namespaces each class's consumers may hold, as remembered (``holders``); None when not
    known. ``failsafe``: consumers placed while that memory was unknown. ``recreated``: held
    namespaces destroyed and re-created under the same name (name -> (old uuid, new uuid)), each
    reserved where it is today until released. Older providers are closed first, so that a run stopped half-way never offers more
    than before; one that holds today's name is first renamed out of its way.
    """
    ops = _older(stale, desired, fence)
    if fence is not None:
        return ops + _fenced(current, fence)
    if current is not None and current.usages is None and needs_usages(current, desired, bool(stale), previous):
        raise ValueError("usages must be read before planning this change")
    if desired is None:
        return ops + _nothing_desired(current)
    return ops + _provider(current, desired) + _inventories(current, desired, stale, previous, failsafe, recreated)


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
                 previous: Holders | None, failsafe: FailSafe | None = None,
                 recreated: typing.Mapping[str, tuple[str, str]] | None = None) -> list[Operation]:
    """Today's classes, classes in use retired, and the reservations of the remap and
    fail-safe rules."""
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
    gone = {rc: inv.reserved for rc, inv in desired.inventories.items() if inv.reserved}
    withheld = failsafe_units(totals, failsafe.held) if failsafe else {}
    lost = recreated_units(desired.namespaces or {}, recreated or {})
    # The remap rule prefers classes already reserving for it: what each reserves for the other
    # causes (recomputed the same way every run) is not that, or the plan would not settle.
    remapping = {rc: dataclasses.replace(inv, reserved=max(0, inv.reserved - gone.get(rc, 0) - withheld.get(rc, 0)
                                                           - len(lost.get(rc, ()))))
                 if rc in totals else inv for rc, inv in cur_inv.items()}
    reserve = reservations(totals, remapping, usages, held, took, known, gone)
    by_name = remapped(totals, usages, took, gone)
    notes = {}
    for rc, units in reserve.items():
        causes = Causes(gone.get(rc, 0), units, withheld.get(rc, 0), len(lost.get(rc, ())))
        after[rc] = dataclasses.replace(after[rc], reserved=causes.reserved(totals[rc]))
        reasons = [_withdrawn_note(causes.unusable, desired.withdrawn.get(rc, ()))] if causes.unusable else []
        if units:
            reasons.append(_note(units, took.get(rc, {}), by_name.get(rc, 0), usages, where))
        if causes.failsafe:
            assert failsafe is not None
            reasons.append(_failsafe_note(causes.failsafe, failsafe))
        if causes.recreated:
            reasons.append(_recreated_note(causes.recreated, lost[rc], recreated or {}))
        if reasons:
            notes[rc] = "; ".join(reasons)
    if after == dict(cur_inv):
        return []
    return [SetInventories(desired.identity, cur_inv, after, usages, notes)]


@dataclasses.dataclass(frozen=True)
class Causes:
    """Why units of one class are not offered. The truth about a class: its free units
    (``total - reserved - used``) never exceed its usable namespaces that no consumer may hold,
    so the causes add up, capped at the total only (Placement accepts ``reserved`` up to
    ``total`` with units in use), never at today's free units."""

    unusable: int = 0
    """Configured namespaces that are not there, not usable or not healthy."""
    remap: int = 0
    """Namespaces a consumer of another class (or provider) may hold: the remap rule."""
    failsafe: int = 0
    """Units withheld for consumers placed while the memory was unknown."""
    recreated: int = 0
    """Held namespaces destroyed and re-created under the same name."""

    def reserved(self, total: int) -> int:
        return min(total, self.unusable + self.remap + self.failsafe + self.recreated)


def _withdrawn_note(units: int, why: typing.Sequence[str]) -> str:
    return f"{units} withdrawn: {'; '.join(why) or 'configured namespaces not usable'}"


def _recreated_note(units: int, names: typing.Sequence[str], recreated: typing.Mapping[str, tuple[str, str]]) -> str:
    which = ", ".join(f"{n} (uuid {recreated[n][0]} -> {recreated[n][1]})" for n in names)
    return (f"{units} reserved: {which} was destroyed and re-created under the same name while a consumer "
            "may hold it (that consumer's data is gone); released once that consumer is")


def _failsafe_note(units: int, failsafe: FailSafe) -> str:
    who = ", ".join(failsafe.consumers[:3]) + (f" and {len(failsafe.consumers) - 3} more"
                                               if len(failsafe.consumers) > 3 else "")
    return (f"{units} withheld by the fail-safe: {failsafe.why}, so consumer{'s' if len(failsafe.consumers) != 1 else ''} "
            f"{who} may hold any configured namespace; released once they are gone "
            "(or at once with 'pmem-placement reconcile --end-fail-safe')")


def _note(units: int, took: typing.Mapping[str, frozenset[str]], by_name: int,
          usages: typing.Mapping[str, int], where: list[str]) -> str:
    """Why ``units`` of ``rc`` are reserved: namespaces it took from classes in use (``by_name``
    of the units), and namespaces still in use elsewhere (the rest)."""
    reasons = [f"it took {', '.join(sorted(ns))} from {c}, whose {usages.get(c, 0)} in use may be there"
               for c, ns in took.items()]
    if units > by_name:
        reasons.append(f"namespaces it took are still in use elsewhere ({', '.join(where)})")
    return f"{units} reserved: {'; '.join(reasons)}, released once free"


def lowering_only(ops: typing.Iterable[Operation]) -> list[Operation]:
    """What a run that cannot trust its mapping may still write (a configured namespace is
    missing or not usable): only what lowers the free units of inventory that exists. Each class
    of today's provider keeps its total and reserves as many more units as the full plan would
    take from its offer; nothing is created, renamed, removed or deleted, and older providers
    are only retired."""
    kept: list[Operation] = []
    for op in ops:
        if isinstance(op, RetireProvider):
            kept.append(op)
        elif isinstance(op, SetInventories):
            after = {}
            for rc, before in op.before.items():
                wanted = op.after.get(rc)
                offer = max(0, wanted.total - wanted.reserved) if wanted is not None else 0
                if offer < before.total - before.reserved:
                    after[rc] = dataclasses.replace(before, reserved=before.total - offer)
                else:
                    after[rc] = before
            if after != dict(op.before):
                notes = {rc: note for rc, note in op.notes.items() if rc in after and after[rc] != op.before[rc]}
                kept.append(SetInventories(op.identity, op.before, after, op.usages, notes))
    return kept


def raised(ops: typing.Iterable[Operation]) -> list[str]:
    """The classes whose free units (total - reserved) the operations would raise, or create."""
    found: set[str] = set()
    for op in ops:
        if isinstance(op, SetInventories):
            for rc, inv in op.after.items():
                old = op.before.get(rc)
                if inv.total - inv.reserved > (old.total - old.reserved if old else 0):
                    found.add(rc)
    return sorted(found)


def offers_more(ops: typing.Iterable[Operation]) -> bool:
    """Whether the operations would let Placement offer more PMEM than before: a new provider,
    or a class whose free units (total - reserved) grow."""
    ops = list(ops)
    return any(isinstance(op, CreateProvider) for op in ops) or bool(raised(ops))
