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


@pytest.mark.parametrize("elsewhere, fenced, warning", [
    ({}, False, None),
    ({"cn": ["CUSTOM_PMEM_NAMESPACE_NOVA"]}, True, "cn itself has CUSTOM_PMEM_NAMESPACE_NOVA: nova reports PMEM too"),
    ({"cn:cyborg": ["CUSTOM_PMEM_NAMESPACE_X"]}, True,
     "provider 'cn:cyborg' (another service's) has CUSTOM_PMEM_NAMESPACE_X; report it from one place only"),
])
def test_pmem_anywhere_else_in_the_tree_fences_ours_and_is_warned_about(elsewhere, fenced, warning):
    import json

    from pmem_placement import desired
    from pmem_placement import output

    rc = "CUSTOM_PMEM_NAMESPACE_A"
    view = show.PlacementView("cn", "u", desired.Identity("c", "cn:pmem", "u"), 3,
                              {rc: {"total": 2, "reserved": 2, "used": 0}}, [],
                              elsewhere.get("cn", []), elsewhere)
    data = json.loads(output.show_json("cn", [], [], view, None, configured={rc}))["placement"]
    assert data["classes"][rc]["state"] == ("fenced" if fenced else "closed")
    assert data["pmem_elsewhere"] == elsewhere
    text = output.show_text("cn", [], [], view, None, configured={rc})
    assert (warning is None) == ("WARNING double counting" not in text)
    if warning:
        assert warning in text
