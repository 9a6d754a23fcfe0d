"""findings(): nova's configuration, the host and Placement compared, as tables."""

import pytest

from pmem_placement.audit import findings as f
from pmem_placement.audit import nova_libvirt as nl
from pmem_placement.discover.model import Health
from pmem_placement.discover.model import Namespace

A, S = "CUSTOM_PMEM_NAMESPACE_4GB", "CUSTOM_PMEM_NAMESPACE_SMALL"


def ns(name, i, **kw):
    base = dict(dev=f"namespace0.{i}", mode="devdax", name=name, has_device_list=True, chardev=f"dax0.{i}",
                device_mode="devdax")
    base.update(kw)
    return Namespace(**base)


HOST = [ns("ns_0", 0), ns("ns_1", 1), ns("ns_2", 2)]
CONF = ["4GB:ns_0", "SMALL:ns_1|ns_2"]


def run(conf=CONF, host=HOST, totals=None, used=None, nova_host=None, child=None):
    config = nl.parse(conf)
    if nova_host is None:
        nova_host = nl.NovaHost(frozenset(n.name for n in host if n.mode == "devdax" and not n.disabled))
    placement = f.PlacementPmem("compute-1", {A: 1, S: 2} if totals is None else totals, used or {},
                                {"compute-1:pmem": child} if child else {})
    return [(x.kind, x.resource_class, x.namespace) for x in f.findings(config, host, nova_host, placement)]


def test_in_sync_has_no_findings():
    assert run() == []
    assert run(conf=[], totals={}) == []


@pytest.mark.parametrize("case, kwargs, expected", [
    ("namespace gone since nova started", dict(host=HOST[:2]),
     [("namespace_missing", S, "ns_2"), ("inventory_mismatch", S, None), ("nova_start_failure", S, "ns_2")]),
    ("fsdax", dict(host=[*HOST[:2], ns("ns_2", 2, mode="fsdax", has_device_list=False, chardev=None)]),
     [("namespace_unusable", S, "ns_2"), ("inventory_mismatch", S, None), ("nova_start_failure", S, "ns_2")]),
    ("system-ram: nova starts but the device is no char device",
     dict(host=[*HOST[:2], ns("ns_2", 2, device_mode="system-ram")]),
     [("namespace_unusable", S, "ns_2"), ("inventory_mismatch", S, None)]),
    ("disabled", dict(host=[*HOST[:2], ns("ns_2", 2, disabled=True, mode="raw")]),
     [("namespace_unusable", S, "ns_2"), ("inventory_mismatch", S, None), ("nova_start_failure", S, "ns_2")]),
    ("a namespace added to the config, nova not restarted", dict(totals={A: 1, S: 1}),
     [("inventory_mismatch", S, None)]),
    ("a class removed from the config, still in Placement", dict(conf=["SMALL:ns_1|ns_2"]),
     [("inventory_mismatch", A, None)]),
    ("more in use than usable", dict(host=HOST[:2], used={S: 2}),
     [("namespace_missing", S, "ns_2"), ("inventory_mismatch", S, None), ("overcommitted", S, None),
      ("nova_start_failure", S, "ns_2")]),
    ("labels alike", dict(conf=["4GB:ns_0", "small:ns_1", "SMALL:ns_2"]),
     [("label_case_collision", S, None)]),
    ("bad ndctl shape", dict(nova_host=nl.NovaHost(frozenset(), "a bare object")),
     [("nova_start_failure", None, None)]),
    ("duplicate", dict(conf=["4GB:ns_0", "SMALL:ns_1|ns_2|ns_1"]),
     [("nova_start_failure", S, "ns_1")]),
    ("format", dict(conf=[*CONF, "oops"]), [("nova_start_failure", None, None)]),
    ("our child reports too", dict(child={S: 2}), [("reported_twice", S, None)]),
    ("a DIMM that failed to arm: nova still hands it out",
     dict(host=[*HOST[:2], ns("ns_2", 2, health=Health("unhealthy", ("DIMM nmem1 failed to arm",)))]),
     [("namespace_unhealthy", S, "ns_2")]),
])
def test_each_kind(case, kwargs, expected):
    assert run(**kwargs) == expected, case


def test_messages_name_what_an_operator_acts_on():
    config = nl.parse(["SMALL:ns_1|ns_2"])
    host = [ns("ns_1", 1), ns("ns_2", 2, device_mode="system-ram")]
    placement = f.PlacementPmem("compute-1", {S: 2}, {S: 2})
    messages = [x.message for x in f.findings(config, host, nl.NovaHost(frozenset({"ns_1", "ns_2"})), placement)]
    assert messages == [
        "namespace 'ns_2' (namespace0.2, label 'SMALL') is in [libvirt]pmem_namespaces but cannot be given to "
        "a guest: its dax device dax0.2 is in system-ram mode, not devdax",
        f"Placement offers 2 of {S} on compute-1, the host has 1 usable namespace for it",
        f"2 of {S} are allocated on compute-1 but the host has only 1 usable namespace for it",
    ]


def test_every_kind_is_tested_above():
    kinds = {k for _, _, exp in test_each_kind.pytestmark[0].args[1] for k, _, _ in exp}
    assert kinds == set(f.KINDS)


def test_identity_ignores_counts_but_not_causes():
    identity, Finding = f.identity, f.Finding
    a = Finding("inventory_mismatch", "CUSTOM_PMEM_NAMESPACE_SMALL", None, "Placement offers 3 ...")
    b = Finding("inventory_mismatch", "CUSTOM_PMEM_NAMESPACE_SMALL", None, "Placement offers 4 ...")
    assert identity(a) == identity(b)
    bad = Finding("nova_start_failure", None, None, "entry 'X' does not follow the format")
    other = Finding("nova_start_failure", None, None, "entry 'Y' does not follow the format")
    assert identity(bad) != identity(other)
