"""Health verdicts word for word, for every signal and every way it can be missing or odd: what
`show`, `check` and the status say of a namespace. Guards against a reason or note that names the
wrong device, miscounts, or says a signal was read when it was not."""

import pytest

from pmem_placement.discover import health

NS = {"dev": "namespace0.0"}
REGION = {"dev": "region0", "mappings": [{"dimm": "nmem0"}, {"dimm": "nmem1"}]}
NFIT = {"dev": "ndbus0", "provider": "ACPI.NFIT"}
CXLBUS = {"dev": "ndbus1", "provider": "CXL"}
CXLREGION = {"dev": "region1", "mappings": [{"dimm": "nmem2"}]}


def _mem0(health):
    """A namespace on CXL memory device mem0 (nd DIMM nmem2), with what 'cxl list -H' printed of it."""
    return NS, CXLREGION, CXLBUS, {"nmem2": {"cxl": {"memdev": "mem0", "health": health}}}


CASES = {
    "flat-badblocks-1": (
        (dict(NS, badblock_count=1), None, None, None),
        ("unhealthy", ("1 bad block (media errors)",), ()),
    ),
    "flat-badblocks-3": (
        (dict(NS, badblock_count=3), None, None, None),
        ("unhealthy", ("3 bad blocks (media errors)",), ()),
    ),
    "flat-none": (
        (NS, None, None, None),
        ("ok", (), ("this output carries no health signals (ndctl list without --dimms --health --media-errors)",)),
    ),
    "dirty-with-count": (
        (
            NS,
            REGION,
            NFIT,
            {
                "nmem0": {"health": {"health_state": "ok", "shutdown_state": "dirty", "shutdown_count": 4}},
                "nmem1": {"health": {"health_state": "non-critical"}},
            },
        ),
        ("ok", (), ("DIMM nmem0 had a dirty shutdown (4 in all)", "DIMM nmem1 health is non-critical")),
    ),
    "dirty-without-count": (
        (
            NS,
            REGION,
            NFIT,
            {
                "nmem0": {"health": {"shutdown_state": "dirty", "shutdown_count": "x"}},
                "nmem1": {"health": {"alarm_temperature": True, "alarm_spares": True, "alarm_x": False}},
            },
        ),
        ("ok", (), ("DIMM nmem0 had a dirty shutdown", "DIMM nmem1 alarms: spares, temperature")),
    ),
    "smart-event-missing-dimm": (
        (NS, REGION, NFIT, {"nmem0": {"flag_smart_event": True, "unreadable": ["nmem0 flags: EIO"]}}),
        (
            "unknown",
            ("nmem0 flags: EIO", "DIMM nmem1 of region0 was not listed"),
            (
                "DIMM nmem0 signals a health event",
                "DIMM nmem0 reports no health ('ndctl list -H' needs a health DSM and /dev/nmem0)",
            ),
        ),
    ),
    "no-mappings-e820": (
        (NS, {"dev": "region2"}, {"dev": "ndbus2", "provider": "e820"}, {}),
        ("ok", (), ("region2 has no DIMMs (e820 memory): no DIMM health signals",)),
    ),
    "no-mappings-nobus": (
        (NS, {"dev": "region2", "mappings": []}, None, {}),
        ("ok", (), ("region2 has no DIMMs (legacy memory): no DIMM health signals",)),
    ),
    "no-dimms-listed": (
        (NS, REGION, NFIT, None),
        ("ok", (), ("this output does not list the DIMMs (ndctl list without --dimms): no DIMM signals",)),
    ),
    "no-region": (
        (NS, None, NFIT, {}),
        ("ok", (), ("this output does not list the regions (ndctl list without --regions): no DIMM signals",)),
    ),
    "scrub-unreadable": (
        (
            dict(NS, unreadable=["ns x: EIO"]),
            dict(REGION, unreadable=["region0 y: EIO"]),
            dict(NFIT, scrub_state="active", unreadable=["bus z: EIO"]),
            {"nmem0": {"health": {}}, "nmem1": {"health": {}}},
        ),
        (
            "unknown",
            (
                "ns x: EIO",
                "bus z: EIO",
                "an address range scrub is in progress on ndbus0 (media errors not yet known)",
                "region0 y: EIO",
            ),
            (),
        ),
    ),
    "scrub-nodev": (
        (NS, {"mappings": []}, {"provider": "ACPI.NFIT", "scrub_state": "active"}, {}),
        (
            "unknown",
            ("an address range scrub is in progress on its bus (media errors not yet known)",),
            ("its region has no DIMMs (ACPI.NFIT memory): no DIMM health signals",),
        ),
    ),
    "read-only": (
        (
            NS,
            dict(REGION, read_only=True),
            NFIT,
            {
                "nmem0": {"health": {"health_state": "fatal"}},
                "nmem1": {"health": {"health_state": "critical"}, "flag_failed_flush": True},
            },
        ),
        (
            "unhealthy",
            (
                "region0 is read-only",
                "DIMM nmem0 health is fatal",
                "DIMM nmem1 failed to flush at the last shutdown",
                "DIMM nmem1 health is critical",
            ),
            (),
        ),
    ),
    "read-only-unarmed": (
        (NS, dict(REGION, read_only=True), NFIT, {"nmem0": {"flag_failed_arm": True}, "nmem1": {}}),
        (
            "unhealthy",
            ("DIMM nmem0 failed to arm (it cannot keep writes across a power loss)",),
            (
                "DIMM nmem0 reports no health ('ndctl list -H' needs a health DSM and /dev/nmem0)",
                "DIMM nmem1 reports no health ('ndctl list -H' needs a health DSM and /dev/nmem1)",
            ),
        ),
    ),
    "unplaced": (
        (NS, dict(REGION, badblock_count=2), NFIT, {"nmem0": {"health": {}}, "nmem1": {"health": {}}}),
        (
            "unknown",
            (
                "region0 has 2 bad blocks and which namespaces they are in is not known (ndctl must read the ranges as root)",
            ),
            (),
        ),
    ),
    "unplaced-nodev": (
        (NS, {"badblock_count": 2, "mappings": []}, NFIT, {}),
        (
            "unknown",
            (
                "its region has 2 bad blocks and which namespaces they are in is not known (ndctl must read the ranges as root)",
            ),
            ("its region has no DIMMs (ACPI.NFIT memory): no DIMM health signals",),
        ),
    ),
    "placed-root": (
        (
            dict(NS, daxregion={"align": 4096}),
            dict(REGION, badblock_count=2),
            NFIT,
            {"nmem0": {"health": {}}, "nmem1": {"health": {}}},
        ),
        ("ok", (), ()),
    ),
    "cxl-memdev-noname-serial": (
        (NS, CXLREGION, CXLBUS, {"nmem2": {"cxl": {"serial": 7, "health": None}}}),
        (
            "ok",
            (),
            (
                "nmem2 (CXL memory device of serial 7) reports no health ('cxl list --health': the device did not answer Get Health Info, or /dev/cxl/memN can be opened by root only)",
            ),
        ),
    ),
    "cxl-memdev-noname": (
        (NS, CXLREGION, CXLBUS, {"nmem2": {"cxl": {"memdev": 5}}}),
        (
            "ok",
            (),
            (
                "nmem2 (CXL memory device without a name) reports no health ('cxl list --health': the device did not answer Get Health Info, or /dev/cxl/memN can be opened by root only)",
            ),
        ),
    ),
    "cxl-health-memN": (
        (NS, CXLREGION, CXLBUS, {"nmem2": {"cxl": {"memdev": "mem0"}}}),
        (
            "ok",
            (),
            (
                "nmem2 (CXL mem0) reports no health ('cxl list --health': the device did not answer Get Health Info, or /dev/cxl/mem0 can be opened by root only)",
            ),
        ),
    ),
    "cxl-health-not-object": (
        (NS, CXLREGION, CXLBUS, {"nmem2": {"cxl": {"memdev": "mem0", "health": []}}}),
        ("unknown", ("nmem2 (CXL mem0) health is not understood (not an object)",), ()),
    ),
    "cxl-no-media-normal": (
        _mem0({}),
        ("unknown", ("nmem2 (CXL mem0) health is not understood (no media_normal)",), ()),
    ),
    "cxl-media-normal-str": (
        _mem0({"media_normal": "yes"}),
        ("unknown", ("nmem2 (CXL mem0) health is not understood (media_normal not true or false)",), ()),
    ),
    "cxl-odd": (
        _mem0({"media_normal": True, "media_not_ready": 1, "hw_replacement_needed": "no", "media_data_lost": None}),
        (
            "unknown",
            (
                "nmem2 (CXL mem0) health is not understood (hw_replacement_needed, media_data_lost, media_not_ready not true or false)",
            ),
            (),
        ),
    ),
    "cxl-odd-media-normal": (
        _mem0({"media_normal": 1}),
        ("unknown", ("nmem2 (CXL mem0) health is not understood (media_normal not true or false)",), ()),
    ),
    "cxl-all-notes": (
        _mem0({"media_normal": True, "maintenance_needed": True, "performance_degraded": True, "dirty_shutdowns": 1}),
        (
            "ok",
            (),
            (
                "nmem2 (CXL mem0) needs maintenance",
                "nmem2 (CXL mem0) is degraded",
                "nmem2 (CXL mem0) had 1 dirty shutdown",
            ),
        ),
    ),
    "cxl-dirty-2-replace": (
        (
            NS,
            CXLREGION,
            CXLBUS,
            {
                "nmem2": {
                    "cxl": {
                        "memdev": "mem0",
                        "health": {"media_normal": True, "hw_replacement_needed": True, "dirty_shutdowns": 2},
                    }
                }
            },
        ),
        ("unhealthy", ("nmem2 (CXL mem0) needs replacement",), ("nmem2 (CXL mem0) had 2 dirty shutdowns",)),
    ),
    "cxl-dirty-bool": (
        (
            NS,
            CXLREGION,
            CXLBUS,
            {"nmem2": {"cxl": {"memdev": "mem0", "health": {"media_normal": True, "dirty_shutdowns": True}}}},
        ),
        ("ok", (), ()),
    ),
    "cxl-not-ready": (
        (
            NS,
            CXLREGION,
            CXLBUS,
            {"nmem2": {"cxl": {"memdev": "mem0", "health": {"media_normal": False, "media_not_ready": True}}}},
        ),
        ("unknown", ("nmem2 (CXL mem0) media is not ready",), ()),
    ),
    "cxl-not-normal": (
        _mem0({"media_normal": False}),
        ("unhealthy", ("nmem2 (CXL mem0) media is not normal",), ()),
    ),
    "cxl-lost-two": (
        (
            NS,
            CXLREGION,
            CXLBUS,
            {
                "nmem2": {
                    "cxl": {
                        "memdev": "mem0",
                        "health": {"media_normal": False, "media_data_lost": True, "media_persistence_lost": True},
                    }
                }
            },
        ),
        ("unhealthy", ("nmem2 (CXL mem0) has lost write persistence", "nmem2 (CXL mem0) has lost its data"), ()),
    ),
    "cxl-error": (
        (NS, CXLREGION, dict(CXLBUS, cxl_error="cxl exited 1"), {"nmem2": {}}),
        ("unknown", ("the health of the CXL memory device under nmem2 could not be read: cxl exited 1",), ()),
    ),
    "cxl-missing": (
        (NS, CXLREGION, dict(CXLBUS, cxl_missing="cxl is not installed"), {"nmem2": {}}),
        ("ok", (), ("nmem2 is a CXL memory device whose health is not read: cxl is not installed",)),
    ),
    "cxl-nothing": (
        (NS, CXLREGION, CXLBUS, {"nmem2": {}}),
        (
            "ok",
            (),
            ("nmem2 is a CXL memory device: this output does not carry its health ('cxl list --memdevs --health')",),
        ),
    ),
    "cxl-unplaced-empty": (
        (NS, CXLREGION, dict(CXLBUS, cxl_unplaced=[]), {"nmem2": {}}),
        (
            "unknown",
            ("cxl lists no CXL memory device for nmem2 (the kernel gives nmem2 no cxl/id before Linux 6.2)",),
            (),
        ),
    ),
    "cxl-unplaced-bad": (
        (
            NS,
            CXLREGION,
            dict(
                CXLBUS,
                cxl_unplaced=[
                    {"memdev": "mem0", "health": {"media_normal": False, "dirty_shutdowns": 1}},
                    {"memdev": "mem1", "health": {"media_normal": True, "media_data_lost": True}},
                    "x",
                ],
            ),
            {"nmem2": {"cxl_id": 42}},
        ),
        (
            "unknown",
            (
                "CXL mem0 media is not normal; CXL mem1 has lost its data, and whether nmem2 is on it is not known (no single device cxl lists has the serial of nmem2's cxl/id, 42)",
            ),
            ("CXL mem0 had 1 dirty shutdown",),
        ),
    ),
    "cxl-unplaced-good": (
        (
            NS,
            CXLREGION,
            dict(CXLBUS, cxl_unplaced=[{"memdev": "mem0", "health": {"media_normal": True}}]),
            {"nmem2": {}},
        ),
        (
            "ok",
            (),
            (
                "nmem2 is not matched to its CXL memory device (the kernel gives nmem2 no cxl/id before Linux 6.2); none of this host's CXL memory devices reports bad health",
            ),
        ),
    ),
    "cxl-unplaced-odd": (
        (NS, CXLREGION, dict(CXLBUS, cxl_unplaced=[{"memdev": "mem0", "health": {"media_normal": "?"}}]), {"nmem2": {}}),
        ("unknown", ("CXL mem0 health is not understood (media_normal not true or false), and whether nmem2 is on it "
                     "is not known (the kernel gives nmem2 no cxl/id before Linux 6.2)",), ()),
    ),
    "cxl-odd-with-media-normal": (
        _mem0({"media_normal": 1, "media_not_ready": 0}),
        ("unknown", ("nmem2 (CXL mem0) health is not understood (media_normal, media_not_ready not true or false)",), ()),
    ),
    "badblocks-0-in-a-region": (
        (dict(NS, badblock_count=0), dict(REGION, badblock_count=0), NFIT, {"nmem0": {"health": {}}, "nmem1": {"health": {}}}),
        ("ok", (), ()),
    ),
    "badblocks-1-in-a-region": (
        (dict(NS, badblock_count=1), REGION, NFIT, {"nmem0": {"health": {}}, "nmem1": {"health": {}}}),
        ("unhealthy", ("1 bad block (media errors)",), ()),
    ),
    "unplaced-1": (
        (NS, dict(REGION, badblock_count=1), NFIT, {"nmem0": {"health": {}}, "nmem1": {"health": {}}}),
        ("unknown", ("region0 has 1 bad block and which namespaces it is in is not known (ndctl must read the ranges "
                     "as root)",), ()),
    ),
    "missing-dimm-then-failed-one": (
        (NS, REGION, NFIT, {"nmem1": {"flag_failed_flush": True, "health": {}}}),
        ("unhealthy", ("DIMM nmem1 failed to flush at the last shutdown",), ()),
    ),
    "nfit-no-health": (
        (NS, REGION, NFIT, {"nmem0": {}, "nmem1": {"health": "x"}}),
        (
            "ok",
            (),
            (
                "DIMM nmem0 reports no health ('ndctl list -H' needs a health DSM and /dev/nmem0)",
                "DIMM nmem1 reports no health ('ndctl list -H' needs a health DSM and /dev/nmem1)",
            ),
        ),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_the_verdict_word_for_word(case):
    (namespace, region, bus, dimms), (state, reasons, notes) = CASES[case]
    verdict = health.assess(namespace, region, bus, dimms)
    assert (verdict.state, verdict.reasons, verdict.notes) == (state, reasons, notes)
