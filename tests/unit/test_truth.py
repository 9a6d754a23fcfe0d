"""The truth about each class, as a table: its free units (``total - reserved - used``, at least 0)
never exceed its usable namespaces that no consumer may hold. Three causes withhold units --
namespaces that are not usable (missing, unusable, unhealthy), the remap rule, the fail-safe --
and they add up, capped at the total only, never at today's free units."""

import dataclasses

import pytest

from pmem_placement import plan
from pmem_placement.desired import Current
from pmem_placement.desired import Inventory
from pmem_placement.desired import desired
from pmem_placement.desired import identity

ROOT = "6f4b1b7a-54a4-4c87-9a0c-0f7c5c3f6a11"
A, B = "CUSTOM_PMEM_NAMESPACE_A", "CUSTOM_PMEM_NAMESPACE_B"
MANAGED = frozenset({"CUSTOM_PMEM_PLACEMENT_MANAGED"})


@pytest.mark.parametrize("causes, total, expected", [
    pytest.param(plan.Causes(), 3, 0, id="nothing"),
    pytest.param(plan.Causes(unusable=1), 3, 1, id="unusable"),
    pytest.param(plan.Causes(unusable=1, remap=1), 3, 2, id="unusable+remap"),
    pytest.param(plan.Causes(unusable=1, failsafe=1), 3, 2, id="unusable+failsafe"),
    pytest.param(plan.Causes(unusable=1, remap=1, failsafe=1), 3, 3, id="all-three"),
    pytest.param(plan.Causes(unusable=2, remap=1, failsafe=2, recreated=1), 3, 3, id="never-beyond-total"),
])
def test_causes_add_up_capped_at_the_total(causes, total, expected):
    assert causes.reserved(total) == expected


def current(totals, used, reserved=None):
    inventories = {rc: Inventory(n, reserved=(reserved or {}).get(rc, 0), max_unit=n) for rc, n in totals.items()}
    return Current(identity(ROOT, "compute-1"), 3, inventories, MANAGED, usages=used)


def after(cur, totals, namespaces, withdrawn=None, previous=None, failsafe=None):
    want = desired(ROOT, "compute-1", totals, MANAGED, namespaces=namespaces, withdrawn=withdrawn)
    ops = plan.plan(cur, want, previous=previous, failsafe=failsafe)
    inv = [op for op in ops if isinstance(op, plan.SetInventories)]
    return (inv[-1].after if inv else cur.inventories), (inv[-1].notes if inv else {})


def free(inventories, used):
    return {rc: max(0, i.total - i.reserved - used.get(rc, 0)) for rc, i in inventories.items()}


# Each row: the host (class -> namespaces, which are withdrawn), who holds what, what is remembered,
# and the usable namespaces of each class that no consumer may hold (the truth).
ROWS = [
    pytest.param({A: ["a0", "a1", "a2"]}, {A: ["a2 is not on this host"]}, {}, None, None,
                 {A: 1}, {A: 2}, id="one-destroyed"),
    pytest.param({A: ["a0", "a1"]}, {A: ["a1 is not on this host"]}, {A: 2}, None, None,
                 {A: 1}, {A: 0}, id="destroyed-while-held:-not-capped-at-free"),
    pytest.param({A: ["a0"], B: ["b0", "a1"]}, {B: ["b0 is unhealthy: DIMM nmem1 failed to arm"]},
                 {A: 1}, {A: frozenset({"a0", "a1"}), B: frozenset({"b0"})}, None,
                 {A: 0, B: 2}, {A: 0, B: 0}, id="unhealthy+remap"),
    pytest.param({A: ["a0"], B: ["b0", "b1", "b2"]}, {B: ["b2 is not usable: it is disabled"]},
                 {A: 1}, None, plan.FailSafe({A: 1}, ("c1",), "lost"),
                 {A: 0, B: 2}, {A: 0, B: 1}, id="unusable+failsafe"),
    pytest.param({A: ["a0"], B: ["b0", "a1", "b2"]}, {B: ["b2 is not on this host"]},
                 {A: 1}, {A: frozenset({"a0", "a1"}), B: frozenset({"b0"})}, plan.FailSafe({A: 1}, ("c1",), "lost"),
                 {A: 0, B: 3}, {A: 0, B: 0}, id="all-three-capped-at-total"),
]


@pytest.mark.parametrize("namespaces, withdrawn, used, previous, failsafe, reserved, truth", ROWS)
def test_free_units_never_exceed_the_truth(namespaces, withdrawn, used, previous, failsafe, reserved, truth):
    totals = {rc: len(names) for rc, names in namespaces.items()}
    cur = current(totals, used)
    inventories, notes = after(cur, totals, namespaces, withdrawn, previous, failsafe)
    assert {rc: i.reserved for rc, i in inventories.items()} == reserved
    assert all(free(inventories, used)[rc] <= truth[rc] for rc in truth)
    for rc, why in withdrawn.items():
        assert notes[rc].startswith(f"{len(why)} withdrawn: {why[0]}")


def test_a_withdrawn_namespace_needs_no_usages_once_reserved():
    # Its reservation does not depend on who holds what: the steady cycle reads no usages.
    want = desired(ROOT, "compute-1", {A: 2}, MANAGED, namespaces={A: ["a0", "a1"]}, withdrawn={A: ("a1 gone",)})
    cur = dataclasses.replace(current({A: 2}, {}, {A: 1}), usages=None)
    assert not plan.needs_usages(cur, want)
    assert plan.needs_usages(dataclasses.replace(cur, inventories={A: Inventory(2, reserved=2, max_unit=2)}), want)


# A run whose mapping does not match the host writes only what lowers the offer.

def lowered(cur, totals, namespaces, withdrawn):
    want = desired(ROOT, "compute-1", totals, frozenset(MANAGED | {"CUSTOM_NEW"}), namespaces=namespaces,
                   withdrawn=withdrawn)
    return plan.lowering_only(plan.plan(cur, want))


def test_lowering_only_reserves_and_never_creates_renames_or_removes():
    cur = current({A: 2}, {A: 1})
    ops = lowered(cur, {A: 2, B: 1}, {A: ["a0", "a1"], B: ["b0"]}, {A: ("a1 is not on this host",)})
    # B would be created, the trait added: neither happens; A's free unit is withdrawn.
    [op] = ops
    assert isinstance(op, plan.SetInventories)
    assert dict(op.after) == {A: Inventory(2, reserved=1, max_unit=2)}
    assert op.notes[A].startswith("1 withdrawn: a1 is not on this host")


def test_lowering_only_keeps_a_class_no_longer_configured_closed_not_removed():
    cur = current({A: 1, B: 1}, {})
    [op] = lowered(cur, {A: 2}, {A: ["a0", "a1"]}, {A: ("a1 is not on this host",)})
    # B would be removed (free): it is closed instead; A would grow to 2 with 1 reserved: same offer.
    assert dict(op.after) == {A: Inventory(1, max_unit=1), B: Inventory(1, reserved=1, max_unit=1)}


def test_lowering_only_offers_nothing_more_and_writes_nothing_when_nothing_lowers():
    cur = current({A: 1}, {})
    assert lowered(cur, {A: 2}, {A: ["a0", "a1"]}, {A: ("a1 is not on this host",)}) == []
    assert lowered(None, {A: 2}, {A: ["a0", "a1"]}, {A: ("a1 is not on this host",)}) == []
