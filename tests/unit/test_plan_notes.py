"""The plan's notes, word for word: what `reconcile` and `show` tell an operator about why units
of a class are not offered. Guards against a note that names the wrong consumers, miscounts them,
says "consumer" for several, or drops the way out (`--end-fail-safe`)."""

from pmem_placement import plan
from pmem_placement.remap import FailSafe

B = "CUSTOM_PMEM_NAMESPACE_B"
C = "CUSTOM_PMEM_NAMESPACE_C"


def test_withdrawn_note_names_each_namespace_and_why():
    assert plan._withdrawn_note(2, ["ns_1: it is disabled", "ns_2: not on this host"]) == \
        "2 withdrawn: ns_1: it is disabled; ns_2: not on this host"
    assert plan._withdrawn_note(1, []) == "1 withdrawn: configured namespaces not usable"


def _failsafe(*consumers):
    return FailSafe(held={B: len(consumers)}, consumers=tuple(consumers), why="the state directory was emptied")


def test_failsafe_note_one_consumer():
    assert plan._failsafe_note(1, _failsafe("c1")) == (
        "1 withheld by the fail-safe: the state directory was emptied, so consumer c1 may hold any configured "
        "namespace; released once they are gone (or at once with 'pmem-placement reconcile --end-fail-safe')")


def test_failsafe_note_names_three_consumers_then_counts_the_rest():
    assert "so consumers c1, c2, c3 may hold" in plan._failsafe_note(2, _failsafe("c1", "c2", "c3"))
    assert "so consumers c1, c2, c3 and 1 more may hold" in plan._failsafe_note(2, _failsafe("c1", "c2", "c3", "c4"))
    assert "so consumers c1, c2, c3 and 3 more may hold" in \
        plan._failsafe_note(2, _failsafe("c1", "c2", "c3", "c4", "c5", "c6"))
    assert "so consumers c1, c2 may hold" in plan._failsafe_note(2, _failsafe("c1", "c2"))


def test_remap_note_names_what_was_taken_from_whom_and_where_the_rest_is_in_use():
    took = {B: frozenset({"ns_2", "ns_0"}), C: frozenset({"ns_5"})}
    assert plan._note(3, took, 3, {B: 2}, []) == (
        "3 reserved: it took ns_0, ns_2 from " + B + ", whose 2 in use may be there; it took ns_5 from " + C
        + ", whose 0 in use may be there, released once free")
    assert plan._note(4, {}, 1, {}, ["1 on compute-0:pmem", "2 under retiring " + C]) == (
        "4 reserved: namespaces it took are still in use elsewhere (1 on compute-0:pmem, 2 under retiring "
        + C + "), released once free")
    # every unit explained by the names taken: no "elsewhere"
    assert "elsewhere" not in plan._note(2, {B: frozenset({"ns_0"})}, 2, {B: 1}, ["1 on old"])


def test_recreated_note_names_the_namespace_and_both_uuids():
    assert plan._recreated_note(1, ["ns_0"], {"ns_0": ("u-old", "u-new")}) == (
        "1 reserved: ns_0 (uuid u-old -> u-new) was destroyed and re-created under the same name while a "
        "consumer may hold it (that consumer's data is gone); released once that consumer is")
    assert plan._recreated_note(2, ["ns_0", "ns_1"], {"ns_0": ("a", "b"), "ns_1": ("c", "d")}).startswith(
        "2 reserved: ns_0 (uuid a -> b), ns_1 (uuid c -> d) was destroyed")
