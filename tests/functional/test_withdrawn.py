"""A configured namespace that is not there, not usable or not healthy is not offered, against the
real Placement: its unit is withdrawn (reserved), never a class in use removed, nothing created;
the run exits 2 naming it. Health comes from ndctl-shaped records (file discovery)."""

import json
import logging

from tests import helpers
from tests.functional.conftest import one_line

SMALL, BIG = "CUSTOM_PMEM_NAMESPACE_SMALL", "CUSTOM_PMEM_NAMESPACE_4GB"


def host_with(dimms=None, gone=(), ns_1=None, **bus):
    """ns_0 and ns_1 on region0 (nmem0), ns_2 on region1 (nmem1), as discovery's ndctl call prints."""
    region0 = [helpers.devdax("ns_0", "namespace0.0", uuid="00000000-0000-4000-8000-000000000000"),
               helpers.devdax("ns_1", "namespace0.1", uuid="00000000-0000-4000-8000-000000000001", **(ns_1 or {}))]
    region1 = [helpers.devdax("ns_2", "namespace1.0", "dax1.0", uuid="00000000-0000-4000-8000-000000000002")]
    regions = {"region0": [r for r in region0 if r["name"] not in gone],
               "region1": [r for r in region1 if r["name"] not in gone]}
    return json.dumps(helpers.combined(regions, dimms, **bus), indent=1)


def classes(admin, node):
    child = admin.child_uuid(node.name)
    usages = admin.call("GET", f"/resource_providers/{child}/usages")["usages"]
    return {rc: (inv["total"], inv["reserved"], usages.get(rc, 0)) for rc, inv in admin.inventories(child).items()}


def test_a_namespace_destroyed_while_held_stops_being_offered_at_the_next_run(node, admin):
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    child, guest = admin.guest_on(node.name, {SMALL: 1})
    node.namespaces_file.write_text(host_with(gone=["ns_2"]))
    result = node.run("reconcile")
    assert result.status == 2
    assert "namespace 'ns_2' (label 'SMALL') is not on this host" in one_line(result)
    assert "their units are withdrawn" in result.err
    # SMALL keeps its total and its consumer; the destroyed namespace's unit is not offered.
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 1, 1)}
    assert [m for m, _ in result.writes] == ["PUT"]
    assert admin.allocations(guest)[child]["resources"] == {SMALL: 1}
    assert "~ inventory CUSTOM_PMEM_NAMESPACE_SMALL: reserved 0 -> 1 (1 withdrawn: ns_2 is not on this host" \
        in result.out
    # Every run until it is back says so, and writes nothing more.
    again = node.run("reconcile")
    assert again.status == 2 and again.writes == []
    # Back (the same namespace): offered again.
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 0, 1)}


def test_a_withdrawn_namespace_never_removes_a_class_in_use_nor_creates_one(node, admin):
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    admin.guest_on(node.name, {BIG: 1})
    # The operator moves to a mapping naming a namespace that is not there: 4GB is no longer
    # configured (in use: closed, not removed), NEW would be created (it is not).
    node.configure(pmem={"namespaces": "SMALL:ns_1|ns_2,NEW:ns_9"})
    result = node.run("reconcile")
    assert result.status == 2 and "namespace 'ns_9' (label 'NEW') is not on this host" in result.err
    assert classes(admin, node) == {BIG: (1, 1, 1), SMALL: (2, 0, 0)}
    assert "CUSTOM_PMEM_NAMESPACE_NEW" not in admin.inventories(admin.child_uuid(node.name))


def test_a_first_run_with_a_namespace_missing_creates_nothing(node, admin):
    node.namespaces_file.write_text(host_with(gone=["ns_2"]))
    result = node.run("reconcile")
    assert result.status == 2 and result.writes == []
    assert admin.provider(admin.child_uuid(node.name)) is None


def test_a_failed_discovery_writes_nothing(node, admin):
    # No nd bus at all (a host at boot, before the drivers probe): not "every namespace is gone".
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    before = admin.snapshot(admin.root_uuid(node.name))
    node.namespaces_file.write_text("")
    result = node.run("reconcile")
    assert result.status == 2 and "no nd bus on this host" in one_line(result)
    assert result.requests == [] and admin.snapshot(admin.root_uuid(node.name)) == before


def test_a_namespace_on_a_dimm_that_failed_to_arm_is_withdrawn_until_it_is_healthy(node, admin):
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    node.namespaces_file.write_text(host_with({"nmem1": {"flag_failed_arm": True}}))
    result = node.run("reconcile")
    assert result.status == 2
    assert ("namespace 'ns_2' (namespace1.0, label 'SMALL') is unhealthy: DIMM nmem1 failed to arm (it cannot "
            "keep writes across a power loss)") in one_line(result)
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 1, 0)}
    shown = json.loads(node.run("show", "--offline", "--format", "json").out)
    [row] = [r for r in shown["namespaces"] if r["name"] == "ns_2"]
    assert row["health"] == "unhealthy" and row["status"].startswith("withdrawn: unhealthy: DIMM nmem1 failed to arm")
    # The DIMM is replaced (or re-armed): offered again.
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 0, 0)}


def test_a_namespace_on_a_cxl_device_that_lost_its_data_is_withdrawn_while_it_is_held(node, admin):
    """A CXL bus: the nd DIMM carries its CXL device's record ('cxl list --memdevs --health', added by
    discovery; shaped as ndctl's documentation prints it). A guest holds the namespace; Placement
    keeps the allocation and offers no unit of that device."""
    good = {"memdev": "mem1", "serial": 9, "health": {"media_normal": True, "media_data_lost": False}}
    node.namespaces_file.write_text(host_with({"nmem1": {"cxl": good}}, provider="CXL"))
    assert node.run("reconcile").status == 0
    child, guest = admin.guest_on(node.name, {SMALL: 1})
    lost = {"memdev": "mem1", "serial": 9, "health": {"media_normal": False, "media_data_lost": True,
                                                      "dirty_shutdowns": 1}}
    node.namespaces_file.write_text(host_with({"nmem1": {"cxl": lost}}, provider="CXL"))
    result = node.run("reconcile")
    assert result.status == 2
    assert ("namespace 'ns_2' (namespace1.0, label 'SMALL') is unhealthy: nmem1 (CXL mem1) has lost its data"
            in one_line(result))
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 1, 1)}
    assert admin.allocations(guest)[child]["resources"] == {SMALL: 1}
    shown = json.loads(node.run("show", "--offline", "--format", "json").out)
    [row] = [r for r in shown["namespaces"] if r["name"] == "ns_2"]
    assert row["health_notes"] == ["nmem1 (CXL mem1) had 1 dirty shutdown"]


def test_media_errors_and_a_critical_health_withdraw_and_the_reasons_add_up(node, admin):
    node.namespaces_file.write_text(host_with({"nmem1": {"health": {"health_state": "critical"}}},
                                              ns_1={"badblock_count": 2}))
    result = node.run("reconcile")
    assert result.status == 2 and result.writes == []  # nothing to lower yet: nothing created
    assert "namespace 'ns_1' (namespace0.1, label 'SMALL') is unhealthy: 2 bad blocks (media errors)" in result.err
    assert "namespace 'ns_2' (namespace1.0, label 'SMALL') is unhealthy: DIMM nmem1 health is critical" in result.err


def test_unhealthy_offer_offers_it_with_a_warning(node, admin, caplog):
    node.configure(pmem={"unhealthy": "offer"})
    node.namespaces_file.write_text(host_with({"nmem1": {"flag_failed_arm": True}}))
    result = node.run("reconcile")
    assert result.status == 0
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 0, 0)}
    assert ("namespace 'ns_2' (namespace1.0, label 'SMALL') is unhealthy: DIMM nmem1 failed to arm (it cannot keep "
            "writes across a power loss): offered all the same ([pmem]unhealthy = offer)") in result.err


def test_a_scrub_in_progress_withdraws_until_it_is_done(node, admin):
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    node.namespaces_file.write_text(host_with(scrub_state="active"))
    result = node.run("reconcile")
    assert result.status == 2 and "has a health that is not known: an address range scrub is in progress" in result.err
    assert classes(admin, node) == {BIG: (1, 1, 0), SMALL: (2, 2, 0)}
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 0, 0)}


def test_dry_run_of_a_withdrawal_writes_nothing_and_shows_it(node, admin):
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    node.namespaces_file.write_text(host_with(gone=["ns_1"]))
    result = node.run("reconcile", "--dry-run")
    assert result.status == 2 and result.writes == []
    assert "reserved 0 -> 1 (1 withdrawn: ns_1 is not on this host" in result.out
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (2, 0, 0)}


def test_the_agent_withdraws_reports_health_and_comes_back(node, admin, caplog):
    node.namespaces_file.write_text(host_with())
    agent = node.agent()
    assert agent.cycle()
    node.namespaces_file.write_text(host_with({"nmem1": {"flag_failed_flush": True}}))
    caplog.set_level(logging.INFO, logger="pmem_placement")
    assert not agent.cycle() and not agent.cycle()
    # A withdrawn namespace's reservation does not depend on usages: the steady cycle is one request.
    sent = sum(agent.status.requests.values())
    assert not agent.cycle()
    assert sum(agent.status.requests.values()) - sent == 1
    status = json.loads((node.dir / "state" / "status.json").read_text())
    assert status["state"] == "error" and status["last_error"]["kind"] == "config_error"
    assert status["classes"][SMALL] == {"total": 2, "reserved": 1}
    assert status["namespaces"]["ns_2"]["offered"] is False
    assert status["namespaces"]["ns_2"]["health"] == "unhealthy"
    assert status["namespaces"]["ns_0"]["offered"] is True
    from pmem_placement.agent import report
    metrics = report.metrics_text(agent.status)
    assert 'pmem_placement_namespace_offered{namespace="ns_2",resource_class="CUSTOM_PMEM_NAMESPACE_SMALL"} 0' \
        in metrics
    assert 'pmem_placement_namespace_health{namespace="ns_2",state="unhealthy"} 1' in metrics
    assert 'pmem_placement_namespace_health{namespace="ns_0",state="ok"} 1' in metrics
    node.namespaces_file.write_text(host_with())
    assert agent.cycle()
    assert classes(admin, node)[SMALL] == (2, 0, 0)


def test_check_fails_on_a_withdrawn_namespace_warns_on_one_offered_anyway_and_on_mixed_sizes(node):
    from tests.functional.conftest import check_lines

    node.namespaces_file.write_text(host_with({"nmem1": {"flag_failed_arm": True}}))
    result = node.run("check")
    line = check_lines(result)["discovery"]
    assert result.status == 2 and line.startswith("Failure  discovery: [pmem]namespaces: namespace 'ns_2'")
    assert "failed to arm" in line and "their units are withdrawn" in line
    assert result.writes == []
    node.configure(pmem={"unhealthy": "offer"})
    line = check_lines(node.run("check"))["discovery"]
    assert line.startswith("Warning  discovery: [pmem]namespaces: namespace 'ns_2'") and "offered all the same" in line
    # One class, two sizes: a guest cannot know which it gets.
    node.configure(pmem={"unhealthy": "reserve"})
    node.namespaces_file.write_text(host_with(ns_1={"size": 123731968}))
    line = check_lines(node.run("check"))["discovery"]
    assert line.startswith(f"Warning  discovery: [pmem]namespaces: {SMALL} holds namespaces of different sizes "
                           "(ns_1 123731968, ns_2 262144000)")


def test_show_marks_an_unhealthy_namespace_in_text(node):
    node.namespaces_file.write_text(host_with({"nmem1": {"flag_failed_arm": True}}))
    out = node.run("show", "--offline").out
    [row] = [line for line in out.splitlines() if "ns_2" in line]
    assert "ACPI.NFIT" in row and " unhealthy " in row
    assert row.endswith("withdrawn: unhealthy: DIMM nmem1 failed to arm (it cannot keep writes across a power loss)")


def test_a_class_healthy_again_is_held_back_while_another_is_withdrawn_and_says_so(node, admin):
    # A's namespace had media errors (withdrawn); it is clean again just as B's DIMM fails to arm.
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:ns_2"})
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    node.namespaces_file.write_text(host_with(gone=["ns_0"]))
    assert node.run("reconcile").status == 2
    assert classes(admin, node) == {BIG: (1, 1, 0), SMALL: (1, 0, 0)}
    node.namespaces_file.write_text(host_with({"nmem1": {"flag_failed_arm": True}}))
    result = node.run("reconcile")
    # Only lowering while a namespace is withdrawn: 4GB is not raised back, and the run says so.
    assert result.status == 2 and classes(admin, node) == {BIG: (1, 1, 0), SMALL: (1, 1, 0)}
    assert f"(their units are withdrawn; {BIG} is held back too; nothing else changes" in one_line(result)
    agent = node.agent()
    assert not agent.cycle()
    ns_0 = agent.status.namespaces["ns_0"]
    assert ns_0["offered"] is False and ns_0["why"].startswith("held back") and ns_0["health"] == "ok"
    node.namespaces_file.write_text(host_with())
    assert node.run("reconcile").status == 0
    assert classes(admin, node) == {BIG: (1, 0, 0), SMALL: (1, 0, 0)}


def test_show_marks_an_ambiguous_name_as_reconcile_does(node):
    records = json.loads(host_with())
    records[0]["regions"][1]["namespaces"][0]["name"] = "ns_1"  # two namespaces named ns_1
    node.namespaces_file.write_text(json.dumps(records))
    rows = {r["dev"]: r["status"] for r in json.loads(node.run("show", "--offline", "--format", "json").out)["namespaces"]}
    assert rows["namespace0.1"] == rows["namespace1.0"] == "withdrawn: ambiguous: namespace0.1, namespace1.0 all carry its name"
    assert "namespace name 'ns_1' (label 'SMALL') is ambiguous" in node.run("reconcile").err


def test_audit_reports_a_namespace_nova_hands_out_on_a_dimm_that_failed_to_arm(nova):
    # nova's host: ns_0 (4GB) and ns_1 on region0, ns_2 on region1 whose DIMM failed to arm;
    # the namespaces file is discovery's combined call, as [pmem]namespaces_file now takes it.
    nova.namespaces_file.write_text(host_with({"nmem1": {"flag_failed_arm": True}}))
    result, data = nova.audit()
    assert result.status == 1
    assert [(f["kind"], f["namespace"]) for f in data["findings"]] == [("namespace_unhealthy", "ns_2")]
    assert "nova hands it to guests, but unhealthy: DIMM nmem1 failed to arm" in data["findings"][0]["message"]
    nova.audit_mode()
    shown = json.loads(nova.run("show", "--format", "json").out)
    [row] = [r for r in shown["namespaces"] if r["name"] == "ns_2"]
    assert row["health"] == "unhealthy" and "namespace_unhealthy" in row["status"]


def test_audit_warns_when_one_of_novas_classes_holds_namespaces_of_different_sizes(nova):
    records = json.loads(host_with())
    records[0]["regions"][1]["namespaces"][0]["size"] = 123731968  # ns_2, SMALL with ns_1
    nova.namespaces_file.write_text(json.dumps(records))
    result, _ = nova.audit()
    assert f"{SMALL} holds namespaces of different sizes (ns_1 262144000, ns_2 123731968): a guest cannot know " \
           "which it gets" in result.err
