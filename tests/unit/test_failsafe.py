"""The fail-safe rule (``remap.failsafe_units``) and its place in the plan, as tables: when the
memory of which namespaces each class had is unknown, consumers holding units then may hold any
configured namespace."""

import pytest

from pmem_placement import plan
from pmem_placement import remap
from pmem_placement.desired import Current
from pmem_placement.desired import Inventory
from pmem_placement.desired import desired
from pmem_placement.desired import identity

ROOT = "6f4b1b7a-54a4-4c87-9a0c-0f7c5c3f6a11"
A, B, C = "CUSTOM_PMEM_NAMESPACE_A", "CUSTOM_PMEM_NAMESPACE_B", "CUSTOM_PMEM_NAMESPACE_C"
MANAGED = frozenset({"CUSTOM_PMEM_PLACEMENT_MANAGED"})


@pytest.mark.parametrize("totals, held, expected", [
    pytest.param({A: 1, B: 1}, {}, {}, id="nobody-holds-anything"),
    pytest.param({A: 1, B: 1}, {A: 1}, {B: 1}, id="swap:-B-may-have-A's-namespace"),
    pytest.param({A: 2, B: 3}, {A: 2}, {B: 2}, id="at-most-what-is-held-elsewhere"),
    pytest.param({A: 2, B: 1}, {A: 2}, {B: 1}, id="never-beyond-total"),
    pytest.param({A: 1, B: 1, C: 2}, {A: 1, B: 1}, {A: 1, B: 1, C: 2}, id="each-class-the-others'"),
    pytest.param({A: 2}, {A: 1, "CUSTOM_PMEM_NAMESPACE_GONE": 1}, {A: 1}, id="a-class-no-longer-configured"),
])
def test_failsafe_units(totals, held, expected):
    assert remap.failsafe_units(totals, held) == expected


@pytest.mark.parametrize("allocations, remembered, unknown, expected", [
    pytest.param({"c1": {A: 1}, "c2": {}}, None, True, {"c1": {A: 1}}, id="unknown:-everyone-holding-pmem"),
    pytest.param({"c1": {A: 1}, "c3": {B: 1}}, {"c1": {A: 1}}, False, {"c1": {A: 1}},
                 id="known:-a-later-consumer-is-not-added"),
    pytest.param({"c3": {B: 1}}, {"c1": {A: 1}}, False, {}, id="known:-ends-when-they-are-gone"),
    pytest.param({"c1": {A: 2}}, {"c1": {A: 1}}, False, {"c1": {A: 2}}, id="as-they-hold-it-now"),
])
def test_failsafe_consumers(allocations, remembered, unknown, expected):
    assert remap.failsafe_consumers(allocations, remembered, unknown) == expected


def provider(totals, used, reserved=None):
    reserved = reserved or {}
    ident = identity(ROOT, "compute-1")
    inventories = {rc: Inventory(n, reserved=reserved.get(rc, 0), max_unit=n) for rc, n in totals.items()}
    return Current(ident, 3, inventories, MANAGED, usages=used)


def reserved_after(current, totals, namespaces, failsafe, previous=None):
    want = desired(ROOT, "compute-1", totals, MANAGED, namespaces=namespaces)
    ops = plan.plan(current, want, previous=previous, failsafe=failsafe)
    inv = [op for op in ops if isinstance(op, plan.SetInventories)]
    after = inv[-1].after if inv else current.inventories
    notes = inv[-1].notes if inv else {}
    return {rc: i.reserved for rc, i in after.items()}, notes


FS = plan.FailSafe({A: 1}, ("c1",), "state.json does not exist")


def test_scenario_swap_after_the_memory_is_lost():
    """4GB:ns_0 (held), SMALL:ns_1, swapped, memory lost: SMALL withholds its unit."""
    current = provider({A: 1, B: 1}, {A: 1})
    reserved, notes = reserved_after(current, {A: 1, B: 1}, {A: ["ns_1"], B: ["ns_0"]}, FS)
    assert reserved == {A: 0, B: 1}
    assert notes[B].startswith("1 withheld by the fail-safe: state.json does not exist, so consumer c1 may hold")


def test_the_failsafe_composes_with_the_remap_rule_never_beyond_total():
    """B took ns_0 from A (known, 1 reserved) and the fail-safe adds A's 2 held units: at most B's total."""
    current = provider({A: 2, B: 2}, {A: 2})
    previous = {A: frozenset({"ns_0", "ns_1"}), B: frozenset({"ns_2", "ns_3"})}
    reserved, notes = reserved_after(current, {A: 2, B: 2}, {A: ["ns_1", "ns_2"], B: ["ns_0", "ns_3"]},
                                     plan.FailSafe({A: 2}, ("c1",), "lost"), previous)
    assert reserved[B] == 2
    assert "it took ns_0 from" in notes[B] and "withheld by the fail-safe" in notes[B]


def test_no_failsafe_no_reservation():
    current = provider({A: 1, B: 1}, {A: 1})
    reserved, _ = reserved_after(current, {A: 1, B: 1}, {A: ["ns_0"], B: ["ns_1"]}, None,
                                 {A: frozenset({"ns_0"}), B: frozenset({"ns_1"})})
    assert reserved == {A: 0, B: 0}


def test_the_failsafe_does_not_fence_a_class_its_own_consumers_fill():
    """A consumer's own class is not withheld for it: its unit is already counted as used."""
    current = provider({A: 2, B: 1}, {A: 1})
    reserved, _ = reserved_after(current, {A: 2, B: 1}, {A: ["ns_0", "ns_2"], B: ["ns_1"]}, FS)
    assert reserved == {A: 0, B: 1}
