"""How `show` names a class's state on the PMEM provider."""

import pytest

from pmem_placement import show


@pytest.mark.parametrize("counts, configured, state", [
    ({"total": 2, "reserved": 0}, True, ""),
    ({"total": 2, "reserved": 1}, True, ""),
    ({"total": 2, "reserved": 2}, False, "retiring"),
    ({"total": 2, "reserved": 2}, True, "fenced"),
])
def test_class_state(counts, configured, state):
    rc = "CUSTOM_PMEM_NAMESPACE_A"
    assert show.class_state(rc, counts, {rc} if configured else set()) == state
