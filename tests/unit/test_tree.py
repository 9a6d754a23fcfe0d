"""The one classifier of the compute node's tree (``tree.py``) and the read decisions (``reads.py``),
as tables: every command that looks at the tree asks these."""

import uuid

import pytest

from pmem_placement import reads
from pmem_placement import tree
from pmem_placement.desired import Current
from pmem_placement.desired import Identity
from pmem_placement.desired import Inventory
from pmem_placement.desired import desired
from pmem_placement.desired import identity
from pmem_placement.mapping import MANAGED_TRAIT

ROOT = "6f4b1b7a-54a4-4c87-9a0c-0f7c5c3f6a11"
TODAY = identity(ROOT, "compute-1").uuid
LEGACY = str(uuid.uuid5(uuid.UUID(ROOT), "compute-1:pmem"))  # 0.1.0's uuid under today's name
OLD_NAME = str(uuid.uuid5(uuid.UUID(ROOT), "old-name:pmem"))  # 0.1.0's, before a rename
NOVA = frozenset({"CUSTOM_PMEM_NAMESPACE_4GB"})
MANAGED = frozenset({MANAGED_TRAIT})
NIC = str(uuid.uuid4())


def p(uuid_, name):
    return {"uuid": uuid_, "name": name, "generation": 1, "parent_provider_uuid": ROOT}


@pytest.mark.parametrize("provider, classes, traits, expected", [
    pytest.param(p(TODAY, "compute-1:pmem"), NOVA, MANAGED, tree.TODAY, id="today's"),
    pytest.param(p(TODAY, "compute-1:pmem"), frozenset(), None, tree.TODAY, id="today's-blank"),
    pytest.param(p(TODAY, "compute-1:pmem"), NOVA, frozenset({"CUSTOM_PMEM_FAST"}), tree.FOREIGN,
                 id="today's-uuid-without-the-managed-trait-is-someone-else's"),
    pytest.param(p(TODAY, "compute-1:pmem"), frozenset(), frozenset({"CUSTOM_X"}), tree.UNRELATED,
                 id="today's-uuid-without-pmem-nor-the-trait"),
    pytest.param(p(ROOT, "compute-1"), NOVA, None, tree.FOREIGN, id="nova-on-the-compute-node"),
    pytest.param(p(ROOT, "compute-1"), NOVA, MANAGED, tree.FOREIGN, id="the-compute-node-is-never-ours"),
    pytest.param(p(ROOT, "compute-1"), frozenset(), None, tree.UNRELATED, id="compute-node-without-pmem"),
    pytest.param(p(LEGACY, "compute-1:pmem"), NOVA, MANAGED, tree.OLDER, id="0.1.0-uuid-is-ours"),
    pytest.param(p(OLD_NAME, "old-name:pmem"), frozenset(), MANAGED, tree.OLDER, id="older-without-pmem"),
    pytest.param(p(NIC, "compute-1:eth0"), NOVA, frozenset(), tree.FOREIGN, id="another-service's-pmem"),
    pytest.param(p(NIC, "compute-1:eth0"), NOVA, MANAGED, tree.OLDER, id="managed-trait-decides"),
    pytest.param(p(NIC, "compute-1:eth0"), frozenset(), MANAGED, tree.UNRELATED, id="no-pmem-no-reason-to-ask"),
    pytest.param(p(NIC, "compute-1:eth0"), frozenset(), None, tree.UNRELATED, id="unrelated"),
    pytest.param(p(LEGACY, "compute-1:pmem"), NOVA, None, tree.FOREIGN, id="traits-not-read-not-ours"),
])
def test_classify(provider, classes, traits, expected):
    assert tree.classify(ROOT, TODAY, provider, classes, traits) == expected


@pytest.mark.parametrize("provider, classes, expected", [
    (p(TODAY, "compute-1:pmem"), NOVA, True),
    (p(TODAY, "compute-1:pmem"), frozenset(), False),
    (p(ROOT, "compute-1"), NOVA, False),
    (p(NIC, "compute-1:eth0"), NOVA, True),
    (p(NIC, "compute-1:eth0"), frozenset(), False),
    (p(OLD_NAME, "old-name:pmem"), frozenset(), True),
    (p(str(uuid.uuid4()), "elsewhere:pmem"), frozenset(), True),
])
def test_traits_are_read_only_where_they_decide(provider, classes, expected):
    assert tree.needs_traits(ROOT, TODAY, provider, classes) is expected


def test_todays_provider_of_a_root():
    listed = [p(ROOT, "compute-1"), p(LEGACY, "compute-1:pmem")]
    assert tree.Root(ROOT, "compute-1", 3, listed).today().uuid == LEGACY
    assert tree.Root(ROOT, "compute-1", 3, listed[:1]).today().uuid == TODAY


@pytest.mark.parametrize("trust, verified_at, now, expected", [
    (False, 100.0, 101.0, True),  # the one-shot always reads in full
    (True, None, 101.0, True),
    (True, 100.0, 101.0, False),
    (True, 100.0, 100.0 + 600, True),  # verify_interval reached
    (True, 200.0, 100.0, True),  # a clock that went back
])
def test_full_read(trust, verified_at, now, expected):
    assert reads.full_read(trust, verified_at, now, 600) is expected


IDENT = Identity(TODAY, "compute-1:pmem", ROOT)
CHILD = Current(IDENT, 5, {"CUSTOM_PMEM_NAMESPACE_4GB": Inventory(1, max_unit=1)}, MANAGED)


@pytest.mark.parametrize("remembered, seen, generation, full, expected", [
    (CHILD, IDENT, 5, False, True),
    (CHILD, IDENT, 6, False, False),  # the generation moved
    (CHILD, IDENT, 5, True, False),  # a full read trusts nothing
    (None, IDENT, 5, False, False),
    (CHILD, Identity(TODAY, "compute-2:pmem", ROOT), 5, False, False),  # renamed by someone
])
def test_child_known(remembered, seen, generation, full, expected):
    assert reads.child_known(remembered, seen, generation, full) is expected


@pytest.mark.parametrize("remembered, listed, full, expected", [
    ((4, NOVA), 4, False, True),
    ((4, NOVA), 5, False, False),
    ((4, NOVA), 4, True, False),
    (None, 4, False, False),
])
def test_classes_known(remembered, listed, full, expected):
    assert reads.classes_known(remembered, listed, full) is expected


WANT = desired(ROOT, "compute-1", {"CUSTOM_PMEM_NAMESPACE_4GB": 1}, MANAGED)
SHRUNK = desired(ROOT, "compute-1", {"CUSTOM_PMEM_NAMESPACE_4GB": 0}, MANAGED)


@pytest.mark.parametrize("current, want, fence, full, expected", [
    (None, WANT, None, True, False),  # nothing to read usages of
    (CHILD, WANT, None, True, True),  # a full read reads them
    (CHILD, WANT, None, False, False),  # in sync: nothing to decide
    (CHILD, None, None, False, True),  # the provider may go
    (CHILD, SHRUNK, None, False, True),  # a class shrinks
    (CHILD, SHRUNK, "nova reports PMEM", False, False),  # fencing closes every class anyway
    (Current(IDENT, 5, CHILD.inventories, MANAGED, usages={}), None, None, True, False),  # already read
])
def test_usages_needed(current, want, fence, full, expected):
    assert reads.usages_needed(current, want, False, None, fence, full) is expected


@pytest.mark.parametrize("remembered, current, expected", [
    (None, CHILD, False),
    (CHILD, CHILD, False),
    (CHILD, Current(IDENT, 9, CHILD.inventories, MANAGED), False),  # allocations moved the generation
    (CHILD, Current(IDENT, 9, {}, MANAGED), True),  # inventory changed under us
    (CHILD, Current(IDENT, 9, CHILD.inventories, frozenset()), True),  # traits changed under us
    (CHILD, None, False),  # gone (nova deleted the tree): not another writer
])
def test_another_writer(remembered, current, expected):
    assert reads.another_writer(remembered, TODAY, current) is expected


def test_partition():
    listed = [p(ROOT, "compute-1"), p(TODAY, "compute-1:pmem"), p(NIC, "compute-1:eth0")]
    today, others = reads.partition(listed, TODAY)
    assert today == listed[1] and others == [listed[0], listed[2]]
    assert reads.partition(listed[:1], TODAY) == (None, listed[:1])


@pytest.mark.parametrize("traits, has_inventory, expected", [
    (MANAGED, True, True),
    (frozenset(), False, True),  # blank: a crash right after creating it
    (frozenset(), True, False),
    (frozenset({"CUSTOM_X"}), False, False),
])
def test_todays_is_ours(traits, has_inventory, expected):
    assert tree.todays_is_ours(traits, has_inventory) is expected


@pytest.mark.parametrize("provider, expected", [
    (p(ROOT, "compute-1"), False),
    (p(TODAY, "compute-1:pmem"), True),
    (p(OLD_NAME, "old-name:pmem"), True),
    (p(NIC, "compute-1:eth0"), False),
])
def test_may_be_ours(provider, expected):
    assert tree.may_be_ours(ROOT, TODAY, provider) is expected
