"""plan's operations compared whole: the provider each one writes to, the generation it checks, the
inventories before and after, and the usages it carries (what apply uses to re-check a write, and
what `reconcile --dry-run` prints). The tables in test_plan.py compare summaries; these guard
against an operation aimed at the wrong provider, or carrying no usages, that a summary would not
show."""

import dataclasses

import pytest

from pmem_placement import plan
from pmem_placement.desired import Current
from pmem_placement.desired import Identity
from pmem_placement.desired import Inventory
from pmem_placement.desired import desired
from pmem_placement.desired import identity
from pmem_placement.ops import CreateProvider
from pmem_placement.ops import DeleteProvider
from pmem_placement.ops import EnsureResourceClasses
from pmem_placement.ops import EnsureTraits
from pmem_placement.ops import RenameProvider
from pmem_placement.ops import RetireProvider
from pmem_placement.ops import SetInventories
from pmem_placement.ops import SetTraits

ROOT = "5a1d3e5e-7d4b-4b53-9a8c-0d6c3f1f2b11"
IDENT = identity(ROOT, "compute-1")
OLD = Identity("0d6c3f1f-0000-4b53-9a8c-5a1d3e5e2b11", "old-name:pmem", ROOT)
OLD2 = Identity("0d6c3f1f-1111-4b53-9a8c-5a1d3e5e2b11", "older-name:pmem", ROOT)
MANAGED = "CUSTOM_PMEM_PLACEMENT_MANAGED"
A, B, C = (f"CUSTOM_PMEM_NAMESPACE_{x}" for x in "ABC")


def inv(total, reserved=0):
    return dataclasses.replace(Inventory.for_namespaces(total), reserved=reserved)


def want(classes, namespaces=None):
    d = desired(ROOT, "compute-1", classes, frozenset({MANAGED}))
    return dataclasses.replace(d, namespaces=namespaces) if namespaces is not None else d


def test_first_sync_creates_this_provider_and_sets_its_traits():
    assert plan.plan(None, want({A: 2})) == [
        EnsureResourceClasses((A,)), EnsureTraits((MANAGED,)), CreateProvider(IDENT),
        SetTraits(IDENT, frozenset(), frozenset({MANAGED})),
        SetInventories(IDENT, {}, {A: inv(2)}, {}, {})]


def test_traits_set_on_the_provider_that_exists():
    current = Current(IDENT, 3, {A: inv(2)}, frozenset(), {})
    assert plan.plan(current, want({A: 2})) == [
        EnsureTraits((MANAGED,)), SetTraits(IDENT, frozenset(), frozenset({MANAGED}))]


def test_fenced_carries_the_provider_and_its_usages():
    current = Current(IDENT, 3, {A: inv(2), B: inv(1)}, frozenset({MANAGED}), {A: 1})
    assert plan.plan(current, want({A: 2, B: 1}), fence="nova reports PMEM") == [
        SetInventories(IDENT, {A: inv(2), B: inv(1)}, {A: inv(2, 2), B: inv(1, 1)}, {A: 1},
                       {A: "fenced: nova reports PMEM", B: "fenced: nova reports PMEM"})]


def test_nothing_desired_deletes_this_provider_when_free():
    current = Current(IDENT, 3, {A: inv(2)}, frozenset({MANAGED}), {})
    assert plan.plan(current, None) == [DeleteProvider(IDENT)]


def test_nothing_desired_retires_what_is_in_use_with_its_usages():
    current = Current(IDENT, 3, {A: inv(2), B: inv(1)}, frozenset({MANAGED}), {A: 1})
    assert plan.plan(current, None) == [SetInventories(IDENT, {A: inv(2), B: inv(1)}, {A: inv(2, 2)}, {A: 1})]


def test_an_older_provider_in_use_is_retired_at_its_own_generation_with_its_usages():
    old = Current(OLD, 11, {A: inv(2), B: inv(1)}, frozenset({MANAGED}), {A: 1})
    ops = plan.plan(None, want({A: 2}), stale=[old])
    assert ops[0] == RetireProvider(OLD, 11, {A: inv(2), B: inv(1)}, {A: inv(2, 2)}, {A: 1})


def test_units_in_use_on_older_providers_are_counted_and_named_in_the_note():
    old = Current(OLD, 11, {A: inv(2), B: inv(2)}, frozenset({MANAGED}), {A: 2, B: 1})
    old2 = Current(OLD2, 4, {A: inv(1)}, frozenset({MANAGED}), {A: 1})
    free = Current(OLD, 5, {C: inv(1)}, frozenset({MANAGED}), {C: 0})
    ops = plan.plan(None, want({A: 4}), stale=[old, old2, free])
    [setinv] = [op for op in ops if isinstance(op, SetInventories)]
    assert setinv.after == {A: inv(4, 4)}
    assert setinv.notes == {A: "4 reserved: namespaces it took are still in use elsewhere "
                               "(3 on old-name:pmem, 1 on older-name:pmem), released once free"}


def test_a_class_left_holds_usages_only_where_its_namespaces_went():
    """needs_usages: a namespace that left a class (remembered) needs the usages, one that stayed does not."""
    current = Current(IDENT, 3, {A: inv(1), B: inv(1)}, frozenset({MANAGED}), None)
    stayed = want({A: 1, B: 1}, {A: frozenset({"n0"}), B: frozenset({"n1"})})
    assert not plan.needs_usages(current, stayed, previous={A: frozenset({"n0"}), B: frozenset({"n1"})})
    assert plan.needs_usages(current, stayed, previous={A: frozenset({"n1"})})
    # a class no longer configured at all: its namespaces left it
    assert plan.needs_usages(current, stayed, previous={C: frozenset({"n2"})})


def test_usages_not_read_for_a_removal_is_a_programming_error():
    current = Current(IDENT, 3, {A: inv(1)}, frozenset({MANAGED}), None)
    with pytest.raises(ValueError, match="^usages must be read before planning a removal$"):
        plan._in_use(current, A)


def _lowered(before, after, usages=None, notes=None):
    return plan.lowering_only([SetInventories(IDENT, before, after, usages or {}, notes or {})])


def test_lowering_only_keeps_retirements_of_older_providers():
    retire = RetireProvider(OLD, 11, {A: inv(2)}, {A: inv(2, 2)}, {A: 1})
    assert plan.lowering_only([CreateProvider(IDENT), retire]) == [retire]


def test_lowering_only_lowers_to_what_the_full_plan_offers_and_keeps_the_usages():
    before = {A: inv(3), B: inv(2)}
    ops = _lowered(before, {A: inv(3, 3), B: inv(2, 1)}, {A: 2}, {A: "3 withdrawn: x", B: "1 withdrawn: y"})
    assert ops == [SetInventories(IDENT, before, {A: inv(3, 3), B: inv(2, 1)}, {A: 2},
                                  {A: "3 withdrawn: x", B: "1 withdrawn: y"})]


def test_lowering_only_writes_nothing_when_the_offer_is_the_same_or_more():
    assert _lowered({A: inv(3, 1)}, {A: inv(3, 1)}) == []
    assert _lowered({A: inv(3, 1)}, {A: inv(4, 1)}) == []
    # a class with nothing reserved whose full plan offers nothing is closed, not kept open
    assert _lowered({A: inv(1)}, {A: inv(1, 1)}) == [SetInventories(IDENT, {A: inv(1)}, {A: inv(1, 1)}, {}, {})]
    # only the class lowered carries its note
    assert _lowered({A: inv(2, 1), B: inv(2)}, {A: inv(2, 1), B: inv(2, 2)}, notes={A: "a", B: "b"}) == [
        SetInventories(IDENT, {A: inv(2, 1), B: inv(2)}, {A: inv(2, 1), B: inv(2, 2)}, {}, {B: "b"})]


def test_lowering_only_closes_a_class_the_full_plan_removes():
    assert _lowered({A: inv(2, 1)}, {}) == [SetInventories(IDENT, {A: inv(2, 1)}, {A: inv(2, 2)}, {}, {})]


def test_raised_names_only_classes_whose_free_units_grow():
    assert plan.raised([SetInventories(IDENT, {A: inv(2, 1), B: inv(1)}, {A: inv(2), B: inv(2, 1)}, {})]) == [A]
    assert plan.raised([SetInventories(IDENT, {}, {C: inv(1)}, {})]) == [C]
    assert plan.raised([SetInventories(IDENT, {}, {C: inv(1, 1)}, {})]) == []


X = "CUSTOM_PMEM_NAMESPACE_X"


def _today(b_reserved):
    # A and B as configured today, B reserving for another cause; X retiring with one unit in use
    return Current(IDENT, 3, {A: inv(3), B: inv(3, b_reserved), X: inv(1)}, frozenset({MANAGED}), {X: 1})


@pytest.mark.parametrize("cause", ["withdrawn", "fail-safe", "re-created"])
def test_the_remap_rule_is_not_drawn_to_a_class_reserving_for_another_cause(cause):
    """The unit held under retiring X (memory unknown) goes by growth, then name: on A. A remap
    rule that took B's reservation for another cause as its own would pile it onto B, and B's
    namespaces would be reserved twice while A's stayed on offer."""
    names = {A: ["a0", "a1", "a2"], B: ["b0", "b1", "b2"]}
    current, failsafe, recreated, withdrawn = _today(1), None, None, None
    if cause == "withdrawn":
        withdrawn = {B: ("b1: not on this host",)}
    elif cause == "fail-safe":
        current = dataclasses.replace(current, usages={X: 1, A: 1})
        failsafe = plan.FailSafe(held={A: 1}, consumers=("c1",), why="the memory was lost")
    else:
        recreated = {"b1": ("u-old", "u-new")}
    target = desired(ROOT, "compute-1", {A: 3, B: 3}, frozenset({MANAGED}), namespaces=names, withdrawn=withdrawn)
    [setinv] = plan.plan(current, target, failsafe=failsafe, recreated=recreated)
    assert setinv.after == {A: inv(3, 1), B: inv(3, 1), X: inv(1, 1)}
    assert setinv.notes[A] == ("1 reserved: namespaces it took are still in use elsewhere (1 under retiring "
                               f"{X}), released once free")
    assert setinv.notes[B] == {
        "withdrawn": "1 withdrawn: b1: not on this host",
        "fail-safe": "1 withheld by the fail-safe: the memory was lost, so consumer c1 may hold any configured "
                     "namespace; released once they are gone (or at once with 'pmem-placement reconcile "
                     "--end-fail-safe')",
        "re-created": "1 reserved: b1 (uuid u-old -> u-new) was destroyed and re-created under the same name while "
                      "a consumer may hold it (that consumer's data is gone); released once that consumer is",
    }[cause]


def test_units_beyond_a_class_new_total_are_reserved_on_the_classes_that_grew():
    """Memory unknown: B shrank below its usage (3 in use, 2 configured); the unit beyond is held."""
    current = Current(IDENT, 3, {A: inv(1), B: inv(3)}, frozenset({MANAGED}), {B: 3})
    [setinv] = plan.plan(current, want({A: 2, B: 2}))
    assert setinv.after == {A: inv(2, 1), B: inv(2)}
    assert setinv.notes == {A: "1 reserved: namespaces it took are still in use elsewhere (1 beyond the new "
                               f"total of {B}), released once free"}
    # exactly at its usage, nothing is beyond
    current = Current(IDENT, 3, {A: inv(1), B: inv(3)}, frozenset({MANAGED}), {B: 2})
    [setinv] = plan.plan(current, want({A: 2, B: 2}))
    assert setinv.after == {A: inv(2), B: inv(2)} and setinv.notes == {}


def _retiring_x(inventories, in_use_x=1, usages=None):
    return Current(IDENT, 3, {**inventories, X: inv(in_use_x)}, frozenset({MANAGED}), {X: in_use_x, **(usages or {})})


def test_the_remap_rule_keeps_its_reservation_where_it_is():
    """A reserves the unit held under X already; B grew: the unit stays on A rather than moving
    to B (a plan that moved it every run would never settle)."""
    [setinv] = plan.plan(_retiring_x({A: inv(3, 1), B: inv(2)}), want({A: 3, B: 3}))
    assert setinv.after == {A: inv(3, 1), B: inv(3), X: inv(1, 1)}


def test_a_class_of_one_namespace_is_not_taken_for_one_already_reserving():
    [setinv] = plan.plan(_retiring_x({A: inv(1), B: inv(3)}), want({A: 1, B: 3}))
    assert setinv.after == {A: inv(1, 1), B: inv(3), X: inv(1, 1)}


def test_the_remap_rule_never_counts_a_withdrawn_namespace_as_free():
    """Two units held under X; A has one withdrawn of two: it can reserve one more, B the other."""
    target = desired(ROOT, "compute-1", {A: 2, B: 2}, frozenset({MANAGED}), withdrawn={A: ("a1: not on this host",)})
    [setinv] = plan.plan(_retiring_x({A: inv(2), B: inv(2)}, in_use_x=2), target)
    assert setinv.after == {A: inv(2, 2), B: inv(2, 1), X: inv(2, 2)}


def test_units_held_under_a_retiring_class_add_to_those_on_an_older_provider():
    old = Current(OLD, 11, {X: inv(1)}, frozenset({MANAGED}), {X: 1})
    ops = plan.plan(_retiring_x({A: inv(3), B: inv(3)}), want({A: 3, B: 3}), stale=[old])
    [setinv] = [op for op in ops if isinstance(op, SetInventories)]
    assert setinv.after == {A: inv(3, 2), B: inv(3), X: inv(1, 1)}


def test_a_class_exactly_at_its_usage_is_not_named_as_holding_units_beyond():
    [setinv] = plan.plan(_retiring_x({A: inv(3), B: inv(3)}, usages={B: 2}), want({A: 3, B: 2}))
    assert setinv.notes == {A: "1 reserved: namespaces it took are still in use elsewhere (1 under retiring "
                               f"{X}), released once free"}


def test_a_memory_of_holders_is_not_used_without_today_namespaces():
    """Remembered holders but namespaces not known today (a plan without them): the units
    beyond B's new total are reserved by count, as when nothing is remembered."""
    current = Current(IDENT, 3, {A: inv(1), B: inv(3)}, frozenset({MANAGED}), {B: 3})
    previous = {B: frozenset({"b0", "b1", "b2"})}
    [setinv] = plan.plan(current, want({A: 2, B: 2}), previous=previous)
    assert setinv.after == {A: inv(2, 1), B: inv(2)}


OLD_HERE = Identity("0d6c3f1f-2222-4b53-9a8c-5a1d3e5e2b11", "compute-1:pmem", ROOT)


def test_an_older_provider_holding_today_s_name_is_renamed_aside_first():
    old = Current(OLD_HERE, 11, {A: inv(2)}, frozenset({MANAGED}), {A: 1})
    ops = plan.plan(None, want({A: 2}), stale=[old])
    aside = dataclasses.replace(OLD_HERE, name="compute-1-0d6c3f1f:pmem")
    assert ops[:2] == [
        RenameProvider(aside, "compute-1:pmem", "older PMEM provider of this compute node: it leaves today's name "
                                                "to today's provider"),
        RetireProvider(OLD_HERE, 11, {A: inv(2)}, {A: inv(2, 2)}, {A: 1})]


def test_fenced_an_older_provider_is_retired_where_it_is_not_renamed():
    old = Current(OLD_HERE, 11, {A: inv(2)}, frozenset({MANAGED}), {A: 1})
    ops = plan.plan(None, want({A: 2}), stale=[old], fence="nova reports PMEM")
    assert ops == [RetireProvider(OLD_HERE, 11, {A: inv(2)}, {A: inv(2, 2)}, {A: 1})]


@pytest.mark.parametrize("stale, previous", [
    ([Current(OLD, 11, {A: inv(1)}, frozenset({MANAGED}), {A: 0})], None),
    ([], {A: frozenset({"a9"})}),
], ids=["an-older-provider", "a-namespace-left-its-class"])
def test_a_plan_that_needs_usages_refuses_to_go_on_without_them(stale, previous):
    current = Current(IDENT, 3, {A: inv(1)}, frozenset({MANAGED}), None)
    target = want({A: 1}, {A: frozenset({"a0"})})
    with pytest.raises(ValueError, match="^usages must be read before planning this change$"):
        plan.plan(current, target, stale=stale, previous=previous)
    assert plan.plan(current, target) == []  # the same plan without them needs none


def test_a_class_with_several_causes_names_each_in_its_note():
    target = desired(ROOT, "compute-1", {A: 3, B: 3}, frozenset({MANAGED}), withdrawn={A: ("a2: it is disabled",)})
    [setinv] = plan.plan(_retiring_x({A: inv(3), B: inv(3)}), target)
    assert setinv.after[A] == inv(3, 2)
    assert setinv.notes[A] == ("1 withdrawn: a2: it is disabled; 1 reserved: namespaces it took are still in use "
                               f"elsewhere (1 under retiring {X}), released once free")
