"""The remap module's memory of namespaces: who the fail-safe withholds for, which held namespaces
were destroyed and re-created, and which uuids the next run must remember. Guards against a
re-created namespace a consumer may hold being offered (its old uuid forgotten), and the fail-safe
counting a consumer's units on the wrong class."""

from pmem_placement import remap

A, B, C = (f"CUSTOM_PMEM_NAMESPACE_{x}" for x in "ABC")


def test_units_held_add_up_per_class_over_consumers():
    assert remap.held_by({"c1": {A: 1, B: 2}, "c2": {A: 3}, "c3": {}}) == {A: 4, B: 2}
    assert remap.held_by({}) == {}


def test_the_fail_safe_withholds_on_each_class_what_its_consumers_hold_elsewhere():
    assert remap.withheld({A: 3, B: 2, C: 1}, {"c1": {A: 1}, "c2": {B: 2}}) == {A: 2, B: 1, C: 1}
    assert remap.withheld({A: 3}, None) == {} and remap.withheld({A: 3}, {}) == {}


def test_a_held_namespace_re_created_under_its_name_is_found_by_its_uuid():
    previous = {A: frozenset({"ns_0", "ns_1"}), B: frozenset({"ns_2"})}
    remembered = {"ns_0": "u0", "ns_1": "u1", "ns_2": "u2", "ns_9": "u9"}
    today = {"ns_0": "u0-new", "ns_1": "u1", "ns_2": "u2-new", "ns_9": "u9-new"}
    # A is in use, B is not: only A's namespaces may be held; ns_9 was never held
    assert remap.recreated(previous, remembered, today, {A: 1, B: 0}) == {"ns_0": ("u0", "u0-new")}
    # usages not read: every class may hold its namespaces
    assert remap.recreated(previous, remembered, today, None) == {"ns_0": ("u0", "u0-new"),
                                                                    "ns_2": ("u2", "u2-new")}
    assert remap.recreated(None, remembered, today, None) == {}
    # a class whose usages say nothing of it holds nothing
    assert remap.recreated(previous, remembered, today, {A: 1}) == {"ns_0": ("u0", "u0-new")}
    # a namespace gone today, or never remembered, is not re-created
    assert remap.recreated(previous, {"ns_1": "u1"}, {"ns_0": "u0"}, None) == {}


def test_the_uuids_to_remember_keep_what_a_consumer_may_still_hold():
    remembered = {"ns_0": "u0", "ns_1": "u1", "ns_2": "u2"}
    today = {"ns_0": "u0-new", "ns_3": "u3"}
    holders = {A: frozenset({"ns_0", "ns_1"})}
    assert remap.uuids_to_remember(remembered, today, {"ns_0": ("u0", "u0-new")}, holders) == {
        "ns_0": "u0",      # re-created while held: the old uuid, so that it stays reserved
        "ns_1": "u1",      # held and gone today: remembered should it come back
        "ns_3": "u3",      # today's
    }                      # ns_2: neither held nor there: forgotten
    assert remap.uuids_to_remember(remembered, today, {}, None) == today


def test_units_of_re_created_namespaces_by_the_class_that_has_them_today():
    assert remap.recreated_units({A: ["ns_1", "ns_0"], B: ["ns_2"]}, {"ns_0": ("a", "b"), "ns_1": ("c", "d")}) == {
        A: ["ns_0", "ns_1"]}


def test_the_fail_safe_s_consumers_are_those_that_hold_pmem_now():
    allocations = {"c1": {A: 1}, "c2": {A: 0}, "c3": {}}
    assert remap.failsafe_consumers(allocations, None, unknown=True) == {"c1": {A: 1}}
    assert remap.failsafe_consumers(allocations, {"c2": {A: 1}}, unknown=False) == {}
