"""`pmem-placement audit` against the real Placement, with a compute node set up the way nova's
libvirt driver reports vPMEM: CUSTOM_PMEM_NAMESPACE_<LABEL> inventory on the root provider, and
allocations of it (only their usages matter to the audit)."""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from pmem_placement import mapping
from pmem_placement.desired import identity
from tests import helpers
from tests.functional.agents import agent_fingerprint
from tests.functional.agents import write_agent_status
from tests.functional.conftest import NOVA_CONF
from tests.functional.conftest import NovaNode
from tests.functional.conftest import requests_from_now
from tests.functional.conftest import vpmem_inventory

A4GB = "CUSTOM_PMEM_NAMESPACE_4GB"
SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"


def kinds(data):
    return [(f["kind"], f["resource_class"], f["namespace"]) for f in data["findings"]]


def test_in_sync_exits_0_and_only_reads(nova, admin):
    before = admin.snapshot(nova.root)
    result, data = nova.audit()
    assert result.status == 0, result.err
    assert data == {"status": "ok", "host": nova.name, "compute_node": {"name": nova.name, "uuid": nova.root},
                    "findings": [], "error": None}
    assert {m for m, _ in result.requests} == {"GET"}
    assert admin.snapshot(nova.root) == before
    text = nova.run("audit", "--nova-config", str(nova.nova_conf))
    assert text.status == 0 and "no findings" in text.out


def test_namespace_missing(nova):
    nova.namespaces_file.write_text(helpers.nova_host(["ns_0", "ns_1"]))
    result, data = nova.audit()
    assert result.status == 1 and data["status"] == "findings"
    assert kinds(data) == [("namespace_missing", SMALL, "ns_2"), ("inventory_mismatch", SMALL, None),
                           ("nova_start_failure", SMALL, "ns_2")]
    assert "nova keeps offering it" in data["findings"][0]["message"]
    assert "Placement offers 2 of CUSTOM_PMEM_NAMESPACE_SMALL" in data["findings"][1]["message"]


@pytest.mark.parametrize("change, why", [
    (lambda r: r["daxregion"]["devices"][0].update(mode="system-ram"), "system-ram mode"),
    (lambda r: r.update(mode="fsdax"), "its mode is fsdax"),
    (lambda r: r.update(state="disabled"), "it is disabled"),
])
def test_namespace_unusable(nova, change, why):
    records = json.loads(helpers.nova_host())
    change(records[2])
    nova.namespaces_file.write_text(json.dumps(records))
    result, data = nova.audit()
    assert result.status == 1
    assert kinds(data)[:2] == [("namespace_unusable", SMALL, "ns_2"), ("inventory_mismatch", SMALL, None)]
    assert why in data["findings"][0]["message"]


def test_inventory_mismatch_after_a_change_nova_has_not_seen(tmp_path, placement, admin):
    nova = NovaNode(tmp_path, placement, admin, {A4GB: 1, SMALL: 1, "CUSTOM_PMEM_NAMESPACE_OLD": 1})
    result, data = nova.audit()
    assert result.status == 1
    assert kinds(data) == [("inventory_mismatch", "CUSTOM_PMEM_NAMESPACE_OLD", None),
                           ("inventory_mismatch", SMALL, None)]
    assert "not in [libvirt]pmem_namespaces" in data["findings"][0]["message"]


def test_overcommitted(nova, admin):
    for _ in range(2):
        admin.consume(nova.root, {SMALL: 1})
    nova.namespaces_file.write_text(helpers.nova_host(["ns_0", "ns_1"]))
    result, data = nova.audit()
    assert ("overcommitted", SMALL, None) in kinds(data)
    assert f"2 of {SMALL} are allocated on {nova.name}" in result.out


def test_label_case_collision(nova):
    nova.nova_conf.write_text("[libvirt]\npmem_namespaces = 4GB:ns_0,small:ns_1,SMALL:ns_2\n")
    result, data = nova.audit()
    assert kinds(data) == [("label_case_collision", SMALL, None)]
    assert "'small' and 'SMALL'" in data["findings"][0]["message"]


def _ndctl_script(tmp_path, ours, novas):
    """An ndctl that prints ``ours`` for our listing and ``novas`` for nova's `ndctl list -X`."""
    (tmp_path / "ours.json").write_text(ours)
    (tmp_path / "novas.json").write_text(novas)
    script = tmp_path / "ndctl"
    script.write_text(f'#!/bin/sh\nif [ "$*" = "list -X" ]; then cat {tmp_path}/novas.json; '
                      f'else cat {tmp_path}/ours.json; fi\n')
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("novas, cause", [
    ("bare", "ndctl printed a bare object"),
    (helpers.sample("v81-list-N-X.json"), "'fsdax_ns' (namespace0.2): named, in mode fsdax, without a daxregion"),
    ("no-align", "'ns_0' (namespace0.0): its daxregion has no align"),
])
def test_nova_start_failure_from_ndctl_output_nova_cannot_read(nova, tmp_path, novas, cause):
    records = json.loads(helpers.nova_host())
    if novas == "bare":
        nova.nova_conf.write_text("[libvirt]\npmem_namespaces = 4GB:ns_0\n")
        novas = json.dumps(records[0])
    elif novas == "no-align":
        del records[0]["daxregion"]["align"]
        novas = json.dumps(records)
    ndctl = _ndctl_script(tmp_path, helpers.nova_host(), novas)
    nova.configure(pmem={"discovery": "ndctl", "ndctl_path": ndctl, "namespaces_file": None})
    result, data = nova.audit()
    failures = [f for f in data["findings"] if f["kind"] == "nova_start_failure"]
    assert result.status == 1 and len(failures) == 1
    assert cause in failures[0]["message"]


@pytest.mark.parametrize("pmem_namespaces, cause", [
    ("4GB:ns_0,SMALL", "'SMALL' does not follow the format"),
    ("4GB:ns_0,SMALL:ns_1|ns_2|ns_1", "'ns_1' is configured twice"),
])
def test_nova_start_failure_from_configuration(nova, pmem_namespaces, cause):
    nova.nova_conf.write_text(f"[libvirt]\npmem_namespaces = {pmem_namespaces}\n")
    result, data = nova.audit()
    assert result.status == 1
    assert any(f["kind"] == "nova_start_failure" and cause in f["message"] for f in data["findings"])


def test_reported_twice(nova, admin):
    child = identity(nova.root, nova.name)
    admin.create_child(nova.root, child.name, vpmem_inventory(CUSTOM_PMEM_NAMESPACE_OTHER=1), rp_uuid=child.uuid)
    result, data = nova.audit()
    assert result.status == 1
    assert kinds(data) == [("reported_twice", "CUSTOM_PMEM_NAMESPACE_OTHER", None)]


@pytest.mark.parametrize("older", ["0.1.0 uuid, today's name", "0.1.0 uuid, an older name"])
def test_reported_twice_by_any_provider_of_ours(nova, admin, tmp_path, older):
    """Audit, check and reconcile classify the tree alike (``tree.classify``): a 0.1.0 provider of
    ours offering PMEM beside nova's is offered twice, whatever its name. Audit used to look only
    at today's uuid and said "no findings" while check said reported_twice."""
    name = f"{nova.name}:pmem" if "today's" in older else f"{nova.name}-old:pmem"
    legacy = str(uuid.uuid5(uuid.UUID(nova.root), name))
    admin.create_child(nova.root, name, vpmem_inventory(**{A4GB: 1}), rp_uuid=legacy, traits=[mapping.MANAGED_TRAIT])
    result, data = nova.audit()
    assert result.status == 1
    assert kinds(data) == [("reported_twice", A4GB, None)]
    assert name in data["findings"][0]["message"]
    nova.configure(pmem={"namespaces": "", "mode": "audit"})
    check = nova.run("check")
    assert "(reported_twice)" in check.out and name in check.out


def test_nova_configuration_files_in_order_and_directories(nova, tmp_path):
    extra = tmp_path / "nova-compute.conf"
    extra.write_text("[libvirt]\npmem_namespaces = 4GB:ns_0,SMALL:ns_1\n")
    result, data = nova.audit("--nova-config", str(extra))
    assert kinds(data) == [("inventory_mismatch", SMALL, None)]
    d = tmp_path / "nova.conf.d"
    d.mkdir()
    (d / "pmem.conf").write_text(NOVA_CONF)
    result, data = nova.audit("--nova-config", str(extra), "--nova-config-dir", str(d))
    assert result.status == 0


def test_default_nova_config_is_pmem_nova_config(nova):
    nova.configure(pmem={"nova_config": str(nova.nova_conf)})
    nova.write_config()
    result = nova.run("audit")
    assert result.status == 0 and result.writes == [], result.err


@pytest.mark.parametrize("setup, message", [
    (lambda n: n.nova_conf.unlink(), "cannot read"),
    (lambda n: n.configure(DEFAULT={"host": "no-such-node"}), "no resource provider named 'no-such-node'"),
    (lambda n: n.namespaces_file.write_text("{"), "not valid JSON"),
])
def test_errors_exit_2_with_one_line(nova, setup, message):
    setup(nova)
    result, data = nova.audit()
    assert result.status == 2 and data["status"] == "error" and data["findings"] == []
    assert message in data["error"]["message"]
    assert result.err.count("\n") == 1 and message in result.err


def test_agent_in_audit_mode_warns_once_reports_and_never_writes(nova, admin, caplog):
    import logging

    metrics = nova.dir / "metrics.prom"
    nova.configure(agent={"metrics_file": str(metrics)})
    agent = nova.audit_agent()
    sent = requests_from_now(nova.placement)
    before = admin.snapshot(nova.root)
    caplog.set_level(logging.INFO, logger="pmem_placement")

    assert agent.cycle()
    status = json.loads((nova.dir / "state" / "status.json").read_text())
    assert status["state"] == "in_sync" and status["findings"] == []
    assert 'pmem_placement_audit_findings{kind="namespace_missing"} 0' in metrics.read_text()

    nova.namespaces_file.write_text(helpers.nova_host(["ns_0", "ns_1"]))
    caplog.clear()
    assert agent.cycle() and agent.cycle()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 3 and warned[0].startswith("audit: namespace_missing: namespace 'ns_2'")
    status = json.loads((nova.dir / "state" / "status.json").read_text())
    assert status["state"] == "error" and status["last_error"]["kind"] == "audit_findings"
    assert [f["kind"] for f in status["findings"]] == ["namespace_missing", "inventory_mismatch",
                                                       "nova_start_failure"]
    text = metrics.read_text()
    assert 'pmem_placement_audit_findings{kind="namespace_missing"} 1' in text
    assert 'pmem_placement_audit_findings{kind="overcommitted"} 0' in text

    nova.namespaces_file.write_text(helpers.nova_host())
    caplog.clear()
    assert agent.cycle()
    cleared = [r.getMessage() for r in caplog.records]
    assert len(cleared) == 3 and all(m.startswith("audit: cleared: ") for m in cleared)
    assert json.loads((nova.dir / "state" / "status.json").read_text())["state"] == "in_sync"
    assert {m for m, _ in sent()} == {"GET"}
    assert admin.snapshot(nova.root) == before


def test_reconcile_in_audit_mode_refuses_to_write(nova):
    nova.configure(pmem={"mode": "audit", "namespaces": "OTHER:ns_0"})
    result = nova.run("reconcile")
    assert result.status == 2 and result.requests == []
    assert result.err.strip() == ("pmem-placement: error: [pmem]mode = audit: nova reports PMEM and pmem-placement "
                                  "never writes to Placement; run 'pmem-placement audit', or set [pmem]mode = report")


def test_agent_audit_that_cannot_be_made_is_warned_once(nova, caplog):
    import logging

    agent = nova.audit_agent(nova_config=str(nova.dir / "missing.conf"))
    caplog.set_level(logging.WARNING, logger="pmem_placement")
    assert not agent.cycle() and not agent.cycle()
    assert [r.getMessage() for r in caplog.records] == [
        f"audit not done: nova's configuration: cannot read {nova.dir / 'missing.conf'} "
        "(--nova-config, [pmem]nova_config)"]
    status = json.loads((nova.dir / "state" / "status.json").read_text())
    assert status["state"] == "error" and status["last_error"]["kind"] == "config_error"
    assert status["consecutive_failures"] == 2


def test_text_output(nova):
    nova.namespaces_file.write_text(helpers.nova_host(["ns_0", "ns_1"]))
    result = nova.run("audit", "--nova-config", str(nova.nova_conf))
    assert result.status == 1 and result.err == ""
    lines = result.out.splitlines()
    assert lines[0] == f"{nova.name}: 3 findings"
    assert lines[1].startswith("  namespace_missing: namespace 'ns_2' (label 'SMALL') is in [libvirt]pmem_namespaces")
    nova.nova_conf.unlink()
    failed = nova.run("audit", "--nova-config", str(nova.nova_conf))
    assert failed.status == 2 and failed.out == "" and failed.err.startswith("pmem-placement: error: nova's configuration")


def test_sysfs_discovery_of_a_real_host(tmp_path, placement, admin):
    nova = NovaNode(tmp_path, placement, admin, {SMALL: 2})
    sys_root = helpers.materialize_sysfs(helpers.NDCTL / "sysfs-dump-create.txt", tmp_path / "root")
    nova.configure(pmem={"discovery": "sysfs", "sysfs_root": str(sys_root), "namespaces_file": None})
    nova.nova_conf.write_text("[libvirt]\npmem_namespaces = SMALL:ns_small|6GB\n")
    result, data = nova.audit()
    assert result.status == 0, data
    nova.nova_conf.write_text("[libvirt]\npmem_namespaces = SMALL:ns_small|fsdax_ns\n")
    result, data = nova.audit()
    assert kinds(data) == [("namespace_unusable", SMALL, "fsdax_ns"), ("inventory_mismatch", SMALL, None),
                           ("nova_start_failure", SMALL, "fsdax_ns")]


def test_agent_keeps_a_finding_whose_numbers_change_without_clearing_it(nova, admin, caplog):
    import logging

    agent = nova.audit_agent()
    caplog.set_level(logging.INFO, logger="pmem_placement")

    def set_total(n):
        generation = admin.call("GET", f"/resource_providers/{nova.root}")["generation"]
        admin.call("PUT", f"/resource_providers/{nova.root}/inventories/{SMALL}",
                   {"resource_provider_generation": generation, **vpmem_inventory(**{SMALL: n})[SMALL]})

    set_total(3)
    assert agent.cycle()
    set_total(4)
    assert agent.cycle()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and messages[0].startswith(f"audit: inventory_mismatch: Placement offers 3 of {SMALL}")
    status = json.loads((nova.dir / "state" / "status.json").read_text())
    assert status["findings"][0]["message"].startswith(f"Placement offers 4 of {SMALL}")


def test_agent_reads_nova_config_directories(nova, tmp_path):
    d = tmp_path / "nova-compute.conf.d"
    d.mkdir()
    (d / "pmem.conf").write_text("[libvirt]\npmem_namespaces = 4GB:ns_0,SMALL:ns_1\n")
    assert nova.audit_agent(nova_config_dir=str(d)).cycle()
    status = json.loads((nova.dir / "state" / "status.json").read_text())
    assert [f["kind"] for f in status["findings"]] == ["inventory_mismatch"]  # the directory overrides the file
    cli = nova.run("audit", "--format", "json")
    assert cli.status == 1 and [f["kind"] for f in json.loads(cli.out)["findings"]] == ["inventory_mismatch"]


@pytest.mark.skipif(os.path.exists("/etc/nova/nova-compute.conf"), reason="this machine has nova-compute.conf")
def test_a_default_nova_config_file_that_does_not_exist_is_skipped(nova):
    nova.configure(pmem={"nova_config": f"{nova.nova_conf},/etc/nova/nova-compute.conf"})
    result = nova.run("audit")
    assert result.status == 0, result.err
    nova.configure(pmem={"nova_config": "/etc/nova/nova-compute.conf"})
    result = nova.run("audit")
    assert result.status == 2
    assert result.err == ("pmem-placement: error: nova's configuration: none of /etc/nova/nova-compute.conf, "
                          "/etc/nova/nova.conf.d, /etc/nova/nova-compute.conf.d exists (--nova-config, "
                          "[pmem]nova_config, [pmem]nova_config_dir)\n")


def test_unreadable_nova_config_says_permission_denied(nova):
    nova.nova_conf.chmod(0)
    nova.write_config()
    # root reads any file: run without the capabilities that let it
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    if prefix and not shutil.which("setpriv"):
        pytest.skip("setpriv is needed to read as root without permission")
    proc = subprocess.run([*prefix, sys.executable, "-m", "pmem_placement.cmd.cli", "--config-file",
                           str(nova.config_file), "audit", "--nova-config", str(nova.nova_conf)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"pmem-placement: error: nova's configuration: permission denied: {nova.nova_conf} "
                           "(run the audit as a user that can read nova's configuration)\n")


def test_an_ndctl_that_hangs_is_named(nova, tmp_path):
    ndctl = _ndctl_script(tmp_path, helpers.nova_host(), helpers.nova_host())
    with open(ndctl, encoding="utf-8") as f:  # nova's listing hangs; ours does not
        text = f.read().replace("then cat", "then sleep 30; cat")
    with open(ndctl, "w", encoding="utf-8") as f:
        f.write(text)
    nova.configure(pmem={"discovery": "ndctl", "ndctl_path": ndctl, "ndctl_timeout": 1, "namespaces_file": None})
    result, data = nova.audit()
    assert result.status == 2
    assert f"{ndctl} list -X did not finish within 1 s" in data["error"]["message"]


def test_show_in_audit_mode_shows_novas_inventory_and_the_findings(nova, admin):
    admin.consume(nova.root, {SMALL: 1})
    nova.audit_mode()
    before = admin.snapshot(nova.root)
    result = nova.run("show")
    assert result.status == 0 and result.err == "" and result.writes == []
    assert "not in [pmem]namespaces" not in result.out and "has no PMEM provider" not in result.out
    lines = result.out.splitlines()
    assert "[pmem]mode = audit" in lines[0]
    assert any(line.split()[1:2] == ["ns_2"] and line.endswith("in [libvirt]pmem_namespaces") for line in lines)
    assert f"  {SMALL}: total 2, used 1" in lines and "Audit: no findings" in lines

    nova.namespaces_file.write_text(helpers.nova_host(["ns_0", "ns_1"]))
    data = json.loads(nova.run("show", "--format", "json").out)
    assert data["mode"] == "audit" and data["placement"]["classes"][SMALL] == {"total": 2, "used": 1}
    assert [f["kind"] for f in data["findings"]] == ["namespace_missing", "inventory_mismatch", "nova_start_failure"]
    assert admin.snapshot(nova.root) == before


def test_show_in_audit_mode_marks_a_dead_agent_stale_and_another_configuration(nova, agent_lock):
    import time

    nova.audit_mode()
    write_agent_status(nova, 2 ** 22 + 12345, agent_fingerprint(nova))  # no agent holds its lock
    gone = f"no agent is running (no process holds the lock on {nova.dir / 'state' / 'agent.pid'})"
    result = nova.run("show")
    assert f"(STALE: {gone})" in result.out.splitlines()[-1], result.out
    data = json.loads(nova.run("show", "--format", "json").out)
    assert data["agent"]["stale"] == gone and data["agent"]["same_config"] is True

    agent_lock(nova, mode="audit", mapping_empty=True)
    write_agent_status(nova, os.getpid(), agent_fingerprint(nova), last_attempt=time.time())
    nova.configure(pmem={"nova_config_dir": str(nova.dir)})  # edited, agent not reloaded
    result = nova.run("show")
    assert "STALE" not in result.out
    assert ("  its configuration differs from these files: reload the agent: systemctl reload "
            "pmem-placement-agent") in result.out.splitlines()
    data = json.loads(nova.run("show", "--format", "json").out)
    assert data["agent"]["stale"] is None and data["agent"]["same_config"] is False


def test_a_provider_at_our_uuid_without_the_managed_trait_is_someone_elses_for_every_command(node, admin):
    """reconcile refuses to touch it; check, show and audit must not call it ours (audit would
    say reported_twice and advise remove, which refuses it too)."""
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    gen = admin.provider(child)["generation"]
    admin.call("PUT", "/traits/CUSTOM_PMEM_FAST")
    admin.call("PUT", f"/resource_providers/{child}/traits",
               {"resource_provider_generation": gen, "traits": ["CUSTOM_PMEM_FAST"]})
    result = node.run("reconcile")
    assert result.status == 1 and "lacks CUSTOM_PMEM_PLACEMENT_MANAGED" in result.err
    check = node.run("check")
    assert check.status == 2
    [line] = [line for line in check.out.splitlines() if "nova coexistence:" in line]
    assert line.startswith("Failure") and f"provider '{node.name}:pmem' has" in line
    node.configure(pmem={"mode": "audit", "namespaces": ""})
    nova_conf = node.dir / "nova.conf"
    nova_conf.write_text("[libvirt]\npmem_namespaces =\n")
    audit = node.run("audit", "--format", "json", "--nova-config", str(nova_conf))
    twice = [f["message"] for f in json.loads(audit.out)["findings"] if f["kind"] == "reported_twice"]
    assert twice and all("not pmem-placement's" in m and "'pmem-placement remove'" not in m for m in twice)
