"""The remap and fail-safe rules: which namespaces each class's consumers may hold, and how
many units each class must reserve so that none of them is offered to a second consumer. Pure.

``holders`` is the memory a run leaves for the next (state.json keeps it); ``taken`` and
``remapped`` use it when namespaces moved between classes; ``reservations`` falls back to counts
where it is not known; ``failsafe_units`` covers consumers placed while it was unknown.
"""

import dataclasses
import typing

from pmem_placement.desired import Inventories

Holders = typing.Mapping[str, frozenset[str]]
"""Resource class -> the namespaces its consumers may hold (names)."""


def holders(
    previous: Holders | None,
    assignment: typing.Mapping[str, frozenset[str]] | None,
    usages: typing.Mapping[str, int] | None,
) -> dict[str, frozenset[str]] | None:
    """What to remember for the next run: the namespaces each class's consumers may hold.

    A class without consumers holds nothing but its namespaces of today; a class in use (or
    whose usages were not read) may also hold every namespace it had since it was last free.
    Without today's assignment (``remove``), what was remembered is kept as it is."""
    if assignment is None:
        return None if previous is None else dict(previous)
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
    unusable: typing.Mapping[str, int] | None = None,
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
    reserves units its own consumers use, nor its ``unusable`` namespaces' (reserved anyway).
    When every free unit is reserved and some held units are still not covered, Placement was
    overcommitted before: nothing more can be closed.
    """
    free = _free(totals, used, unusable)
    reserved = dict.fromkeys(totals, 0)
    reserved.update(remapped(totals, used, took or {}, unusable))
    pool = sum(max(0, used.get(rc, 0) - total) for rc, total in totals.items() if rc not in known)
    for rc, units in sorted(held_elsewhere.items()):
        if rc in totals:
            take = max(0, min(units, free[rc] - reserved[rc]))
            reserved[rc] += take
            units -= take
        pool += units

    def order(rc: str) -> tuple[int, int, str]:
        old = before.get(rc)
        return (-(old.reserved if old and not old.retiring else 0), -(totals[rc] - (old.total if old else 0)), rc)

    for rc in sorted(totals, key=order):
        take = max(0, min(pool, free[rc] - reserved[rc]))
        reserved[rc] += take
        pool -= take
    return reserved


@dataclasses.dataclass(frozen=True)
class FailSafe:
    """The consumers that held PMEM when the memory was found unknown, as they hold it now."""

    held: typing.Mapping[str, int]
    """Class -> units those consumers hold on it now."""
    consumers: tuple[str, ...]
    why: str
    """Why the memory was unknown."""


def failsafe_units(totals: typing.Mapping[str, int], held: typing.Mapping[str, int]) -> dict[str, int]:
    """The fail-safe rule: consumers placed under a mapping nobody remembers may hold any
    configured namespace, so each class D withholds min(total of D, the units they hold on every
    other class)."""
    everywhere = sum(held.values())
    return {d: min(total, everywhere - held.get(d, 0)) for d, total in totals.items()
            if everywhere - held.get(d, 0) > 0}


def _free(totals: typing.Mapping[str, int], used: typing.Mapping[str, int],
          unusable: typing.Mapping[str, int] | None = None) -> dict[str, int]:
    """Class -> its usable namespaces its own consumers do not hold."""
    return {rc: max(0, total - used.get(rc, 0) - (unusable or {}).get(rc, 0)) for rc, total in totals.items()}


def remapped(totals: typing.Mapping[str, int], used: typing.Mapping[str, int],
             took: typing.Mapping[str, typing.Mapping[str, frozenset[str]]],
             unusable: typing.Mapping[str, int] | None = None) -> dict[str, int]:
    """The part of the remap rule that is known by name: a class D that took namespaces from a
    class C in use reserves min(units in use on C, namespaces it took from C), summed over C,
    within its usable namespaces. Not within what D's own consumers leave free: they may leave
    without moving the provider's generation, and then the units they freed must stay reserved."""
    usable = _free(totals, {}, unusable)
    return {d: min(usable[d], sum(min(used.get(c, 0), len(ns)) for c, ns in by_class.items()))
            for d, by_class in took.items() if d in totals}


def failsafe_consumers(allocations: typing.Mapping[str, typing.Mapping[str, int]],
                       remembered: typing.Mapping[str, typing.Mapping[str, int]] | None,
                       unknown: bool) -> dict[str, dict[str, int]]:
    """The fail-safe's consumers as they hold PMEM now (``allocations``: consumer -> its PMEM):
    with the memory unknown, every consumer holding PMEM; otherwise those of ``remembered`` that
    still do (the fail-safe ends for each as it leaves, never starts for a new one)."""
    holding = {c: dict(r) for c, r in allocations.items() if any(n > 0 for n in r.values())}
    if unknown:
        return holding
    return {c: r for c, r in holding.items() if c in (remembered or {})}


def withheld(totals: typing.Mapping[str, int],
             consumers: typing.Mapping[str, typing.Mapping[str, int]] | None) -> dict[str, int]:
    """Class -> the units the fail-safe withholds for ``consumers`` (consumer -> class -> units)."""
    return failsafe_units(totals, held_by(consumers)) if consumers else {}


def held_by(consumers: typing.Mapping[str, typing.Mapping[str, int]]) -> dict[str, int]:
    """Class -> the units ``consumers`` hold on it."""
    held: dict[str, int] = {}
    for resources in consumers.values():
        for rc, n in resources.items():
            held[rc] = held.get(rc, 0) + n
    return held


def recreated(previous: Holders | None, remembered: typing.Mapping[str, str], today: typing.Mapping[str, str],
              usages: typing.Mapping[str, int] | None) -> dict[str, tuple[str, str]]:
    """Namespaces a consumer may hold that were destroyed and re-created under the same name
    since (their uuid changed): name -> (uuid remembered, uuid today). A namespace may be held
    when a class in use (or whose usages were not read) may hold it (``previous``)."""
    held = {name for rc, names in (previous or {}).items()
            if usages is None or usages.get(rc, 0) > 0 for name in names}
    return {name: (remembered[name], today[name]) for name in sorted(held)
            if name in remembered and name in today and remembered[name] != today[name]}


def recreated_units(assignment: typing.Mapping[str, typing.Iterable[str]],
                    recreated_: typing.Mapping[str, tuple[str, str]]) -> dict[str, list[str]]:
    """Class -> the re-created held namespaces it has today (each reserves a unit)."""
    found: dict[str, list[str]] = {}
    for rc, names in assignment.items():
        for name in sorted(names):
            if name in recreated_:
                found.setdefault(rc, []).append(name)
    return found


def uuids_to_remember(remembered: typing.Mapping[str, str], today: typing.Mapping[str, str],
                      recreated_: typing.Mapping[str, tuple[str, str]],
                      holders_: typing.Mapping[str, frozenset[str]] | None) -> dict[str, str]:
    """Each namespace's uuid for the next run: today's; for a held namespace that is gone today,
    the one remembered (should it come back re-created); for a re-created namespace still held,
    the old one, so that it stays reserved until released."""
    held = {name for names in (holders_ or {}).values() for name in names}
    result = {name: uuid for name, uuid in remembered.items() if name in held and name not in today}
    result.update(today)
    for name, (old, _) in recreated_.items():
        result[name] = old
    return result
