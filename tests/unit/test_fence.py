"""Fencing: who reports PMEM besides us, and the one line an operator reads."""

import pytest

from pmem_placement import fence


@pytest.mark.parametrize(
    "foreign, expected",
    [
        ({}, None),
        ({"compute-1": {"CUSTOM_PMEM_NAMESPACE_6GB"}},
         "the compute node provider 'compute-1' has CUSTOM_PMEM_NAMESPACE_6GB"),
        ({"compute-1": {"CUSTOM_PMEM_NAMESPACE_B", "CUSTOM_PMEM_NAMESPACE_A"}, "cyborg-1": {"CUSTOM_PMEM_NAMESPACE_X"}},
         "the compute node provider 'compute-1' has CUSTOM_PMEM_NAMESPACE_A, CUSTOM_PMEM_NAMESPACE_B; "
         "provider 'cyborg-1' has CUSTOM_PMEM_NAMESPACE_X"),
    ],
)
def test_reason(foreign, expected):
    assert fence.reason("compute-1", foreign) == expected


@pytest.mark.parametrize(
    "exists, wrote, dry_run, ending",
    [
        (False, False, False, "compute-1:pmem is not created meanwhile"),
        (True, True, False, "compute-1:pmem was fenced (every class reserved = total, allocations kept)"),
        (True, True, True, "compute-1:pmem would be fenced (every class reserved = total, allocations kept; dry run)"),
        (True, False, False, "compute-1:pmem stays fenced meanwhile (every class reserved = total, allocations kept)"),
    ],
)
def test_message_names_nova_s_option_and_what_was_done(exists, wrote, dry_run, ending):
    line = fence.message("X", "compute-1:pmem", exists, wrote, dry_run)
    assert line.startswith("X: nova reports PMEM itself ([libvirt]pmem_namespaces is set in nova.conf)")
    assert line.endswith("; " + ending) and "\n" not in line


def test_a_provider_other_than_nova_s_is_named_and_nova_is_not_blamed():
    why = fence.reason("compute-1", {"compute-1-cyborg": {"CUSTOM_PMEM_NAMESPACE_X"}})
    line = fence.message(why, "compute-1:pmem", True, True, False, by_nova=False)
    assert line.startswith("provider 'compute-1-cyborg' has CUSTOM_PMEM_NAMESPACE_X: another service reports PMEM")
    assert "nova" not in line and "stop that provider's PMEM inventory" in line
