"""How `show` names a class's state on the PMEM provider."""

import pytest

from pmem_placement import show


@pytest.mark.parametrize("counts, configured, fenced, state", [
    ({"total": 2, "reserved": 0}, True, False, ""),
    ({"total": 2, "reserved": 1}, True, False, ""),
    ({"total": 2, "reserved": 0}, True, True, ""),
    ({"total": 2, "reserved": 2}, False, False, "retiring"),
    ({"total": 2, "reserved": 2}, False, True, "retiring"),
    ({"total": 2, "reserved": 2}, True, True, "fenced"),
    ({"total": 2, "reserved": 2}, True, False, "closed"),
])
def test_class_state(counts, configured, fenced, state):
    rc = "CUSTOM_PMEM_NAMESPACE_A"
    assert show.class_state(rc, counts, {rc} if configured else set(), fenced) == state
