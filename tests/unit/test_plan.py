"""plan(current, desired): tables of starting states and the operations they need."""

import pytest

from pmem_placement import plan
from pmem_placement.desired import Current
from pmem_placement.desired import Inventory
from pmem_placement.desired import desired
from pmem_placement.desired import identity

ROOT = "5a1d3e5e-7d4b-4b53-9a8c-0d6c3f1f2b11"
IDENT = identity(ROOT, "compute-1")
MANAGED = "CUSTOM_PMEM_PLACEMENT_MANAGED"
A, B, C = (f"CUSTOM_PMEM_NAMESPACE_{x}" for x in "ABC")


def want(classes, traits=(MANAGED,)):
    return desired(ROOT, "compute-1", classes, frozenset(traits))


def have(inventories, traits=(MANAGED,), usages=None):
    inv = {rc: (i if isinstance(i, Inventory) else Inventory.for_namespaces(i)) for rc, i in inventories.items()}
    return Current(IDENT, 7, inv, frozenset(traits), usages)


def summary(ops):
    return [(c.action, c.kind, c.name, c.before, c.after) for c in plan.changes(ops)]


def test_identity_is_deterministic_uuid5():
    assert IDENT == identity(ROOT, "compute-1")
    assert IDENT.name == "compute-1:pmem" and IDENT.parent_uuid == ROOT
    assert identity(ROOT, "compute-2").uuid != IDENT.uuid


def test_inventory_fields_follow_the_design():
    assert Inventory.for_namespaces(3).as_dict() == {
        "total": 3, "reserved": 0, "min_unit": 1, "max_unit": 3, "step_size": 1, "allocation_ratio": 1.0}


def test_first_sync_creates_classes_traits_provider_then_inventory():
    ops = plan.plan(None, want({A: 1, B: 2}, [MANAGED, "CUSTOM_FAST"]))
    assert [type(op).__name__ for op in ops] == [
        "EnsureResourceClasses", "EnsureTraits", "CreateProvider", "SetTraits", "SetInventories"]
    assert ops[0].names == (A, B)
    assert ops[1].names == ("CUSTOM_FAST", MANAGED)
    assert ops[4].after == {A: Inventory.for_namespaces(1), B: Inventory.for_namespaces(2)}


@pytest.mark.parametrize(
    "current, classes, expected",
    [
        pytest.param(have({A: 1, B: 2}), {A: 1, B: 2}, [], id="in-sync"),
        pytest.param(have({A: 1, B: 2}), {A: 2, B: 1},
                     [("update", "inventory", A, {"total": 1, "max_unit": 1}, {"total": 2, "max_unit": 2}),
                      ("update", "inventory", B, {"total": 2, "max_unit": 2}, {"total": 1, "max_unit": 1})],
                     id="remap-one-namespace"),
        pytest.param(have({A: 1}), {A: 1, B: 1},
                     [("ensure", "resource_class", B, None, None),
                      ("create", "inventory", B, None, Inventory.for_namespaces(1).as_dict())],
                     id="new-label"),
        pytest.param(have({A: 1, B: 1}, usages={}), {A: 1},
                     [("delete", "inventory", B, Inventory.for_namespaces(1).as_dict(), None)],
                     id="unused-class-removed"),
        pytest.param(have({A: 1, B: 2}, usages={B: 1}), {A: 1},
                     [("update", "inventory", B, {"reserved": 0}, {"reserved": 2})],
                     id="used-class-retired"),
        pytest.param(have({A: 1, B: Inventory(2, reserved=2, max_unit=2)}, usages={B: 1}), {A: 1}, [],
                     id="retiring-class-still-used-stays"),
        pytest.param(have({A: 1, B: Inventory(2, reserved=2, max_unit=2)}, usages={}), {A: 1},
                     [("delete", "inventory", B, Inventory(2, reserved=2, max_unit=2).as_dict(), None)],
                     id="retired-class-freed-is-removed"),
        pytest.param(have({A: 1, B: Inventory(2, reserved=2, max_unit=2)}, usages={B: 1}), {A: 1, B: 2},
                     [("update", "inventory", B, {"reserved": 2}, {"reserved": 0})],
                     id="retiring-class-wanted-again"),
        pytest.param(have({A: Inventory(1, reserved=1)}), {A: 1},
                     [("update", "inventory", A, {"reserved": 1}, {"reserved": 0})],
                     id="someone-edited-our-inventory"),
        pytest.param(have({A: 1}, traits=()), {A: 1},
                     [("ensure", "trait", MANAGED, None, None), ("create", "trait", MANAGED, None, None)],
                     id="blank-provider-left-by-a-crash-adopted"),
    ],
)
def test_plan_table(current, classes, expected):
    assert summary(plan.plan(current, want(classes))) == expected


def test_trait_changes_show_added_and_removed():
    ops = plan.plan(have({A: 1}, traits=(MANAGED, "CUSTOM_OLD")), want({A: 1}, [MANAGED, "CUSTOM_NEW"]))
    assert summary(ops) == [
        ("ensure", "trait", "CUSTOM_NEW", None, None),
        ("create", "trait", "CUSTOM_NEW", None, None),
        ("delete", "trait", "CUSTOM_OLD", None, None),
    ]


@pytest.mark.parametrize(
    "current, expected",
    [
        pytest.param(None, [], id="nothing-either-side"),
        pytest.param(have({A: 1}, usages={}), ["DeleteProvider"], id="unused-provider-deleted"),
        pytest.param(have({}, usages={}), ["DeleteProvider"], id="empty-provider-deleted"),
        pytest.param(have({A: 1, B: 1}, usages={B: 1}), ["SetInventories"], id="used-kept-retired"),
        pytest.param(have({A: Inventory(1, reserved=1)}, usages={A: 1}), [], id="all-retired-still-used"),
    ],
)
def test_nothing_configured(current, expected):
    ops = plan.plan(current, None)
    assert [type(op).__name__ for op in ops] == expected
    if expected == ["SetInventories"]:
        assert ops[0].after == {B: Inventory.for_namespaces(1).retired()}


def test_removal_without_usages_is_refused():
    with pytest.raises(ValueError):
        plan.plan(have({A: 1, B: 1}), want({A: 1}))


@pytest.mark.parametrize(
    "current, classes, needed",
    [
        (None, {A: 1}, False),
        (have({A: 1}), {A: 1, B: 1}, False),
        (have({A: 1, B: 1}), {A: 1}, True),
        (have({A: 1}), None, True),
    ],
)
def test_usages_are_read_only_when_something_may_go(current, classes, needed):
    assert plan.needs_usages(current, want(classes) if classes else None) is needed
