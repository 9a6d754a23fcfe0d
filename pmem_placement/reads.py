"""What a reconcile attempt must read, from what it remembers and what the plan needs. Pure.

Every change to a provider's inventory, traits or allocations moves its generation, so what is
remembered of a provider whose generation is unchanged is still true of its inventory and
traits (not of its usages: deleting an allocation leaves the generation as it was). A full
read (the one-shot; the agent at least every ``[agent]verify_interval``) trusts nothing.
"""

import typing

from pmem_placement import plan as plan_mod
from pmem_placement.desired import Current
from pmem_placement.desired import Desired
from pmem_placement.desired import Identity


def full_read(trust_cache: bool, verified_at: float | None, now: float, verify_interval: float) -> bool:
    """Whether this run reads everything: always without ``trust_cache`` (the one-shot), and
    when the last full read is unknown, in the future, or older than ``verify_interval``."""
    return not trust_cache or verified_at is None or not (0 <= now - verified_at < verify_interval)


def child_known(remembered: Current | None, seen: Identity, generation: int, full: bool) -> bool:
    """Whether today's provider's inventory and traits are known without reading them."""
    return not full and remembered is not None and remembered.identity == seen and remembered.generation == generation


def classes_known(remembered: tuple[int, frozenset[str]] | None, listed_generation: int, full: bool) -> bool:
    """Whether another provider's PMEM classes are known without reading its inventory."""
    return not full and remembered is not None and remembered[0] == listed_generation


def usages_needed(current: Current | None, want: Desired | None, stale: bool,
                  previous: plan_mod.Holders | None, fence: str | None, full: bool) -> bool:
    """Whether today's provider's usages must be read before planning: in a full read, and
    when the plan needs them (``plan.needs_usages``), except while fenced (fencing closes every
    class whatever is in use)."""
    if current is None:
        return False
    if current.usages is not None:
        # Remembered at this generation: at least today's, which only the count-based rule for
        # older providers' units cannot take (it places them within what each class leaves free).
        return stale and fence is None
    return full or (fence is None and plan_mod.needs_usages(current, want, stale, previous))


def another_writer(remembered: Current | None, today_uuid: str, current: Current | None) -> bool:
    """Whether someone else changed our provider: what we remember is exactly what we last
    wrote, and new allocations move the generation but change neither inventory nor traits. A
    provider that is gone is no such evidence: nova deletes a compute node's whole tree when its
    service is deleted, ours first."""
    if remembered is None or current is None or remembered.identity.uuid != today_uuid:
        return False
    return (current.inventories, current.traits) != (remembered.inventories, remembered.traits)


def partition(tree: typing.Iterable[typing.Mapping[str, typing.Any]], today_uuid: str
              ) -> tuple[typing.Mapping[str, typing.Any] | None, list[typing.Mapping[str, typing.Any]]]:
    """Today's provider's record (None when it does not exist) and the other providers."""
    today, others = None, []
    for provider in tree:
        if provider["uuid"] == today_uuid:
            today = provider
        else:
            others.append(provider)
    return today, others
