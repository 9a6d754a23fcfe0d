"""plan(current, desired): tables of starting states and the operations they need."""

import dataclasses
import uuid

import pytest

from pmem_placement import plan
from pmem_placement.desired import Current
from pmem_placement.desired import Identity
from pmem_placement.desired import Inventory
from pmem_placement.desired import desired
from pmem_placement.desired import identity
from pmem_placement.desired import identity_in_tree
from pmem_placement.desired import may_be_ours

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


def test_identity_is_deterministic_uuid5_of_the_root_alone():
    assert IDENT == identity(ROOT, "compute-1")
    assert IDENT.name == "compute-1:pmem" and IDENT.parent_uuid == ROOT
    assert IDENT.uuid == str(uuid.uuid5(uuid.UUID(ROOT), "pmem"))
    renamed = identity(ROOT, "compute-2")
    assert renamed.uuid == IDENT.uuid and renamed.name == "compute-2:pmem"  # a rename is one PUT
    assert identity("0d6c3f1f-7d4b-4b53-9a8c-5a1d3e5e2b11", "compute-1").uuid != IDENT.uuid


LEGACY = str(uuid.uuid5(uuid.UUID(ROOT), "compute-1:pmem"))  # what 0.1.0 derived


@pytest.mark.parametrize(
    "tree, expected_uuid",
    [
        pytest.param([{"uuid": ROOT}], IDENT.uuid, id="none-yet"),
        pytest.param([{"uuid": ROOT}, {"uuid": IDENT.uuid}], IDENT.uuid, id="today's"),
        pytest.param([{"uuid": ROOT}, {"uuid": LEGACY}], LEGACY, id="0.1.0-under-today's-name-adopted"),
        pytest.param([{"uuid": ROOT}, {"uuid": LEGACY}, {"uuid": IDENT.uuid}], IDENT.uuid, id="today's-first"),
    ],
)
def test_identity_in_tree(tree, expected_uuid):
    ident = identity_in_tree(ROOT, "compute-1", tree)
    assert (ident.uuid, ident.name, ident.parent_uuid) == (expected_uuid, "compute-1:pmem", ROOT)


@pytest.mark.parametrize(
    "provider, expected",
    [
        ({"uuid": str(uuid.uuid5(uuid.UUID(ROOT), "old-name:pmem")), "name": "old-name:pmem"}, True),
        ({"uuid": str(uuid.uuid4()), "name": "old-name:pmem"}, True),
        ({"uuid": str(uuid.uuid5(uuid.UUID(ROOT), "copy")), "name": "copy"}, True),
        ({"uuid": str(uuid.uuid4()), "name": "compute-1:neutron"}, False),
    ],
)
def test_older_providers_of_ours_are_recognised_from_the_tree_listing(provider, expected):
    assert may_be_ours(ROOT, provider) is expected


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
        pytest.param(have({A: 1, B: 2}, usages={}), {A: 2, B: 1},
                     [("update", "inventory", A, {"total": 1, "max_unit": 1}, {"total": 2, "max_unit": 2}),
                      ("update", "inventory", B, {"total": 2, "max_unit": 2}, {"total": 1, "max_unit": 1})],
                     id="remap-one-namespace"),
        pytest.param(have({A: 1}, usages={}), {A: 1, B: 1},
                     [("ensure", "resource_class", B, None, None),
                      ("create", "inventory", B, None, Inventory.for_namespaces(1).as_dict())],
                     id="new-label"),
        pytest.param(have({A: 1, B: 1}, usages={}), {A: 1},
                     [("delete", "inventory", B, Inventory.for_namespaces(1).as_dict(), None)],
                     id="unused-class-removed"),
        pytest.param(have({A: 1, B: 2}, usages={B: 1}), {A: 1},
                     [("update", "inventory", A, {"reserved": 0}, {"reserved": 1}),
                      ("update", "inventory", B, {"reserved": 0}, {"reserved": 2})],
                     id="used-class-retired-its-units-in-use-reserved-on-the-rest"),
        pytest.param(have({A: Inventory(1, reserved=1), B: Inventory(2, reserved=2, max_unit=2)}, usages={B: 1}),
                     {A: 1}, [], id="retiring-class-still-used-stays"),
        pytest.param(have({A: 1, B: Inventory(2, reserved=2, max_unit=2)}, usages={}), {A: 1},
                     [("delete", "inventory", B, Inventory(2, reserved=2, max_unit=2).as_dict(), None)],
                     id="retired-class-freed-is-removed"),
        pytest.param(have({A: 1, B: Inventory(2, reserved=2, max_unit=2)}, usages={B: 1}), {A: 1, B: 2},
                     [("update", "inventory", B, {"reserved": 2}, {"reserved": 0})],
                     id="retiring-class-wanted-again"),
        pytest.param(have({A: Inventory(1, reserved=1)}, usages={}), {A: 1},
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


@pytest.mark.parametrize("current, classes", [(have({A: 1, B: 1}), {A: 1}), (have({A: 2}), {A: 1}),
                                              (have({A: Inventory(1, reserved=1)}), {A: 1})])
def test_a_change_without_usages_is_refused(current, classes):
    with pytest.raises(ValueError):
        plan.plan(current, want(classes))


@pytest.mark.parametrize(
    "current, classes, needed",
    [
        (None, {A: 1}, False),
        (have({A: 1}), {A: 1}, False),
        (have({A: 1}), {A: 1, B: 1}, False),
        (have({A: 1}), {A: 2}, False),
        (have({A: 2}), {A: 1}, True),
        (have({A: Inventory(1, reserved=1)}), {A: 1}, True),
        (have({A: 1, B: 1}), {A: 1}, True),
        (have({A: 1}), None, True),
    ],
)
def test_usages_are_read_only_when_something_may_go(current, classes, needed):
    assert plan.needs_usages(current, want(classes) if classes else None) is needed


# The remap rule: (totals, before, used, held elsewhere) -> reserved per class.
@pytest.mark.parametrize(
    "totals, before, used, held, expected",
    [
        pytest.param({A: 2}, {A: Inventory.for_namespaces(2)}, {}, {}, {A: 0}, id="nothing-held"),
        pytest.param({A: 2}, {A: Inventory.for_namespaces(1)}, {}, {B: 1}, {A: 1},
                     id="retiring-class-held-reserved-on-the-class-that-took-it"),
        pytest.param({A: 2, C: 2}, {A: Inventory.for_namespaces(1), C: Inventory.for_namespaces(2)}, {}, {B: 1},
                     {A: 1, C: 0}, id="the-class-that-grew-reserves-first"),
        pytest.param({A: 2, C: 2}, {A: Inventory(2, reserved=0, max_unit=2), C: Inventory(2, reserved=1, max_unit=2)},
                     {}, {B: 1}, {A: 0, C: 1}, id="a-class-already-reserving-keeps-it:-no-flip-flop"),
        pytest.param({A: 2}, {A: Inventory.for_namespaces(2)}, {A: 2}, {B: 1}, {A: 0},
                     id="never-reserves-its-own-consumers'-units"),
        pytest.param({A: 1, B: 2}, {A: Inventory.for_namespaces(2), B: Inventory.for_namespaces(1)}, {A: 2}, {},
                     {A: 0, B: 1}, id="shrunk-below-usage:-the-excess-is-reserved-where-it-went"),
        pytest.param({A: 2, B: 2}, {}, {}, {B: 1}, {A: 0, B: 1},
                     id="older-provider's-units-reserved-on-the-same-class-first"),
        pytest.param({A: 2, B: 1}, {}, {}, {B: 3}, {A: 2, B: 1},
                     id="more-held-than-the-same-class-can-cover:-spills-over"),
        pytest.param({A: 1}, {}, {A: 1}, {B: 5}, {A: 0}, id="overcommitted-before:-nothing-more-to-close"),
    ],
)
def test_reservations_table(totals, before, used, held, expected):
    assert plan.reservations(totals, before, used, held) == expected


def test_remap_of_a_held_namespace_reserves_it_on_the_class_that_took_it():
    """SMALL:ns_small (1 in use), then 4GB:ns_0|ns_small: SMALL retires and 4GB offers 1, not 2."""
    ops = plan.plan(have({A: 1, B: 1}, usages={B: 1}), want({A: 2}))
    [op] = ops
    assert op.after == {A: Inventory(2, reserved=1, max_unit=2), B: Inventory.for_namespaces(1).retired()}
    notes = {c.name: c.note for c in plan.changes(ops)}
    assert notes[A] == (f"1 reserved: namespaces it took are still in use elsewhere (1 under retiring {B}), "
                        "released once free")
    assert notes[B] == "retiring: 1 in use, removed once free"
    # Once free: the retiring class goes and the reservation is released, in one write.
    [op] = plan.plan(have({A: Inventory(2, reserved=1, max_unit=2), B: Inventory.for_namespaces(1).retired()},
                          usages={}), want({A: 2}))
    assert op.after == {A: Inventory.for_namespaces(2)}


OLD = identity(ROOT, "compute-0")
OLD_LEGACY = Current(Identity(str(uuid.uuid5(uuid.UUID(ROOT), "compute-0:pmem")), "compute-0:pmem", ROOT), 3,
                     {A: Inventory.for_namespaces(1), B: Inventory.for_namespaces(2)}, frozenset([MANAGED]))


@pytest.mark.parametrize(
    "old_usages, expected",
    [
        pytest.param({}, [("delete", "resource_provider", "compute-0:pmem", {"uuid": OLD_LEGACY.identity.uuid}, None)],
                     id="free:-deleted"),
        pytest.param({B: 1}, [("update", "resource_provider", "compute-0:pmem", None, None),
                              ("update", "inventory", B, {"reserved": 0}, {"reserved": 1})],
                     id="in-use:-retired,-its-units-reserved-on-today's"),
    ],
)
def test_an_older_provider_after_a_rename(old_usages, expected):
    import dataclasses

    old = dataclasses.replace(OLD_LEGACY, usages=old_usages)
    ops = plan.plan(have({A: 1, B: 2}, usages={}), want({A: 1, B: 2}), stale=[old])
    assert summary(ops) == expected
    if old_usages:
        assert ops[0].after == {B: Inventory.for_namespaces(2).retired()}  # only its class in use stays


def test_rename_is_one_put_of_the_name():
    current = Current(OLD, 7, {A: Inventory.for_namespaces(1)}, frozenset([MANAGED]), {})
    assert summary(plan.plan(current, want({A: 1}))) == [
        ("update", "resource_provider", "compute-1:pmem", {"name": "compute-0:pmem"}, {"name": "compute-1:pmem"})]


@pytest.mark.parametrize(
    "current, expected",
    [
        pytest.param(None, [], id="first-sync-creates-nothing"),
        pytest.param(have({A: 1, B: 2}), [("update", "inventory", A, {"reserved": 0}, {"reserved": 1}),
                                          ("update", "inventory", B, {"reserved": 0}, {"reserved": 2})],
                     id="every-class-reserved"),
        pytest.param(have({A: Inventory(1, reserved=1)}), [], id="already-fenced"),
    ],
)
def test_fence(current, expected):
    ops = plan.plan(current, want({A: 1, B: 2}), fence="the compute node provider 'compute-1' has X")
    assert summary(ops) == expected
    assert all(c.note == "fenced: the compute node provider 'compute-1' has X" for c in plan.changes(ops))


# The remap rule with the namespaces known: (classes' namespaces before -> after, units in use)
# -> reserved per class. A class reserves min(units in use on C, namespaces it took from C),
# summed over the classes C in use; a class that took nothing reserves nothing.
def ns(**classes):
    return {getattr_class(k): frozenset(v.split("|")) for k, v in classes.items()}


def getattr_class(label):
    return {"A": A, "B": B, "C": C}[label]


@pytest.mark.parametrize(
    "previous, after, used, expected",
    [
        pytest.param(ns(A="n0", B="n1|n2"), ns(A="n0|n1", B="n2"), {B: 1}, {A: 1, B: 0},
                     id="held-namespace-moved-while-its-old-class-still-fits"),
        pytest.param(ns(A="n0", B="n1"), ns(A="n1", B="n0"), {B: 1}, {A: 1, B: 0}, id="label-swap"),
        pytest.param(ns(A="n0", B="n1|n2"), ns(A="n0"), {B: 2}, {A: 0}, id="took-nothing-reserves-nothing"),
        pytest.param(ns(A="n0", B="n1|n2"), ns(A="n0|n1|n2"), {B: 1}, {A: 1}, id="took-two-of-one-in-use"),
        pytest.param(ns(A="n0", B="n1|n2"), ns(A="n0|n1|n2"), {B: 2}, {A: 2}, id="took-two-of-two-in-use"),
        pytest.param(ns(A="n0", B="n1", C="n2"), ns(A="n0|n1|n2"), {B: 1, C: 1}, {A: 2}, id="summed-over-classes"),
        pytest.param(ns(A="n0", B="n1|n2"), ns(A="n0|n1", C="n2"), {B: 2}, {A: 1, C: 1},
                     id="split-between-two-classes"),
        pytest.param(ns(A="n0", B="n1"), ns(A="n0|n1"), {A: 1, B: 1}, {A: 1}, id="never-its-own-consumers'-units"),
        # Not capped at what its own consumers leave free: they may leave without moving the
        # provider's generation (DELETE /allocations), and the remembered usages would not see it.
        pytest.param(ns(A="n0", B="n1"), ns(A="n0|n1"), {A: 2, B: 1}, {A: 1}, id="not-capped-by-its-own-consumers"),
        pytest.param(ns(A="n0", B="n1|n2"), ns(A="n0|n1", B="n2"), {}, {A: 0, B: 0}, id="nothing-in-use"),
        pytest.param(ns(A="n0", B="n0|n1"), ns(A="n0", B="n1"), {B: 1}, {A: 1, B: 0},
                     id="remembered-holders-keep-it-reserved-while-in-use"),
    ],
)
def test_reservations_with_namespaces_known(previous, after, used, expected):
    totals = {rc: len(names) for rc, names in after.items()}
    took = plan.taken(previous, after, used)
    assert plan.reservations(totals, {}, used, {}, took, frozenset(previous)) == expected


@pytest.mark.parametrize(
    "previous, assignment, usages, expected",
    [
        pytest.param(None, ns(A="n0"), {}, ns(A="n0"), id="first-run"),
        pytest.param(ns(A="n0", B="n1"), ns(A="n1", B="n0"), {B: 1}, ns(A="n1", B="n0|n1"),
                     id="a-class-in-use-may-still-hold-what-it-had"),
        pytest.param(ns(A="n1", B="n0|n1"), ns(A="n1", B="n0"), {}, ns(A="n1", B="n0"), id="free-again:-forgotten"),
        pytest.param(ns(A="n0", B="n1|n2"), ns(A="n0"), {B: 2}, ns(A="n0", B="n1|n2"), id="retiring-in-use-kept"),
        pytest.param(ns(A="n0", B="n1"), ns(A="n1", B="n0"), None, ns(A="n0|n1", B="n0|n1"),
                     id="usages-unknown:-everything-kept"),
        pytest.param(ns(A="n0"), None, {}, ns(A="n0"), id="assignment-unknown:-the-memory-is-kept-(remove)"),
        pytest.param(None, None, {}, None, id="nothing-known"),
    ],
)
def test_holders_table(previous, assignment, usages, expected):
    assert plan.holders(previous, assignment, usages) == expected


def test_a_label_swap_of_a_held_namespace_is_reserved_and_says_why():
    """4GB:ns_0,SMALL:ns_1 with SMALL in use, then 4GB:ns_1,SMALL:ns_0: 4GB offers nothing
    until SMALL's consumer is gone (it may hold ns_1); the counts alone show no change."""
    current = have({A: 1, B: 1}, usages={B: 1})
    target = desired(ROOT, "compute-1", {A: 1, B: 1}, frozenset([MANAGED]), namespaces=ns(A="n1", B="n0"))
    assert plan.needs_usages(dataclasses.replace(current, usages=None), target, previous=ns(A="n0", B="n1"))
    ops = plan.plan(current, target, previous=ns(A="n0", B="n1"))
    assert summary(ops) == [("update", "inventory", A, {"reserved": 0}, {"reserved": 1})]
    [change] = plan.changes(ops)
    assert change.note == f"1 reserved: it took n1 from {B}, whose 1 in use may be there, released once free"
    assert plan.plan(current, target, previous=None) == []  # not known: the counts show nothing to do


def test_an_older_provider_holding_today_s_name_steps_aside():
    """A 0.1.0 provider named compute-1:pmem, in use, while today's provider (another uuid) must
    take that name: the older one is renamed to a unique name first, then retired."""
    legacy = Current(Identity(LEGACY, "compute-1:pmem", ROOT), 3, {B: Inventory.for_namespaces(2)},
                     frozenset([MANAGED]), {B: 1})
    current = Current(identity(ROOT, "compute-0"), 7, {A: Inventory.for_namespaces(1), B: Inventory.for_namespaces(2)},
                      frozenset([MANAGED]), {})
    ops = plan.plan(current, want({A: 1, B: 2}), stale=[legacy])
    assert [type(op).__name__ for op in ops] == ["RenameProvider", "RetireProvider", "RenameProvider",
                                                  "SetInventories"]
    assert ops[0].identity.uuid == LEGACY and ops[0].identity.name == f"compute-1-{LEGACY[:8]}:pmem"
    assert ops[2].identity.uuid == IDENT.uuid and ops[2].identity.name == "compute-1:pmem"
    free = dataclasses.replace(legacy, usages={})
    assert [type(op).__name__ for op in plan.plan(current, want({A: 1, B: 2}), stale=[free])] == [
        "DeleteProvider", "RenameProvider"]


@pytest.mark.parametrize(
    "current, classes, expected",
    [
        pytest.param(None, {A: 1}, True, id="first-sync"),
        pytest.param(have({A: 1, B: 2}, usages={}), {A: 2, B: 1}, True, id="a-class-grows"),
        pytest.param(have({A: 2}, usages={}), {A: 1}, False, id="a-class-shrinks"),
        pytest.param(have({A: 1}, usages={}), {A: 1, B: 1}, True, id="a-new-class"),
        pytest.param(have({A: Inventory(1, reserved=1)}, usages={}), {A: 1}, True, id="a-reservation-released"),
        pytest.param(have({A: 1, B: 1}, usages={B: 1}), {A: 1}, False, id="retiring"),
    ],
)
def test_offers_more_decides_when_the_agent_reads_the_other_providers_again(current, classes, expected):
    assert plan.offers_more(plan.plan(current, want(classes))) is expected
