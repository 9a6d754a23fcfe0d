"""'Did you mean' hints: the nearest name, look-alikes and case counted close."""

import pytest

from pmem_placement import mapping
from pmem_placement import near
from tests import helpers


@pytest.mark.parametrize("name, candidates, expected", [
    ("ns_O", ["ns_0", "ns_1", "ns_2"], "ns_0"),  # guards: difflib suggested ns_2
    ("ns_l", ["ns_0", "ns_1", "ns_2"], "ns_1"),
    ("NS_0", ["ns_0", "ns_1"], "ns_0"),
    ("ns-0", ["ns_0", "ns_1"], "ns_0"),
    ("sn_0", ["ns_0", "ns_9"], "ns_0"),  # neighbours swapped: one slip
    ("vm_data", ["vm_date", "db_data"], "vm_date"),
    ("ns_0", ["completely_other"], None),
    ("ns_3", ["ns_0", "ns_1"], None),  # guards (found by review): a tie went to the first in sorted order
    ("ab", ["xy"], None),
])
def test_the_nearest_name(name, candidates, expected):
    assert near.nearest(name, candidates) == expected


def test_a_look_alike_is_nearer_than_another_character():
    assert near.distance("ns_O", "ns_0") < near.distance("ns_O", "ns_2") == 1


def test_a_hint_never_names_a_namespace_configured_under_another_label():
    """Guards: a destroyed ns_2 suggested ns_1, already configured under another label."""
    host = [helpers.devdax("ns_0", "namespace0.0"), helpers.devdax("ns_1", "namespace0.1")]
    namespaces = _parse(host)
    result = mapping.resolve(mapping.parse("A:ns_1,B:ns_2"), namespaces)
    [withdrawn] = result.withdrawn
    assert withdrawn.message == "namespace 'ns_2' (label 'B') is not on this host: did you mean 'ns_0'?"
    result = mapping.resolve(mapping.parse("A:ns_0|ns_1,B:ns_2"), namespaces)
    assert result.withdrawn[0].message == "namespace 'ns_2' (label 'B') is not on this host"
    result = mapping.resolve(mapping.parse("A:ns_O"), namespaces)
    assert result.withdrawn[0].message == "namespace 'ns_O' (label 'A') is not on this host: did you mean 'ns_0'?"


def _parse(records):
    import json

    from pmem_placement.discover import ndctl_json

    return ndctl_json.parse(json.dumps(records))
