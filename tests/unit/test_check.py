"""The pure checks of `pmem-placement check`, as tables."""

import os
import pathlib

import pytest
from oslo_upgradecheck.upgradecheck import Code

from pmem_placement import check


@pytest.mark.parametrize("texts, binary", [
    (["[Service]\nExecStart=/usr/bin/pmem-placement-agent --config-file /etc/x.conf\n"], "/usr/bin/pmem-placement-agent"),
    (["[Service]\nExecStart=-/opt/venv/bin/pmem-placement-agent\n"], "/opt/venv/bin/pmem-placement-agent"),
    (["[Service]\nExecStart=\nExecStart=@/usr/local/bin/agent agent\n"], "/usr/local/bin/agent"),
    (["[Service]\nType=simple\n"], None),
    # drop-ins apply after the unit: an empty ExecStart= resets, the last one wins
    (["[Service]\nExecStart=/usr/bin/pmem-placement-agent\n",
      "[Service]\nExecStart=\nExecStart=/opt/venv/bin/pmem-placement-agent --config-file /etc/x.conf\n"],
     "/opt/venv/bin/pmem-placement-agent"),
    (["[Service]\nExecStart=/usr/bin/pmem-placement-agent\n", "[Service]\nExecStart=\n"], None),
    (["[Service]\nExecStart=/usr/bin/a\n", "[Service]\nExecStart=\nExecStart=/b\n", "[Service]\nExecStart=\nExecStart=/c\n"],
     "/c"),
    (["[Service]\nExecStart=/usr/bin/a\n", "[Service]\nReadWritePaths=/x\n"], "/usr/bin/a"),
])
def test_exec_start(texts, binary):
    assert check.exec_start(*texts) == binary


UNIT = ("/etc/systemd/system/pmem-placement-agent.service", "[Service]\nExecStart=/usr/bin/pmem-placement-agent\n")


def test_systemd_unit_warns_when_the_binary_is_missing():
    missing = check.systemd_unit(UNIT, exists=lambda path: False)
    assert missing.code == Code.WARNING
    assert "ExecStart runs /usr/bin/pmem-placement-agent, which does not exist" in missing.details
    assert check.systemd_unit(UNIT, exists=lambda path: True).code == Code.SUCCESS
    assert check.systemd_unit(None).code == Code.SUCCESS


@pytest.mark.parametrize("command, said", [
    # 0.1.0's way to run a virtualenv's agent; after an upgrade it would keep the old agent running.
    ("/opt/old/bin/pmem-placement-agent", "override.conf: a drop-in replaces the unit's ExecStart: it runs "
     "/opt/old/bin/pmem-placement-agent, not /usr/bin/pmem-placement-agent"),
    ("/usr/bin/python3 -c pass", "ExecStart runs /usr/bin/python3, which is not pmem-placement-agent"),
], ids=["an-older-agent", "not-the-agent"])
def test_a_drop_in_that_replaces_exec_start_is_followed_and_said(command, said):
    dropin = ("/etc/systemd/system/pmem-placement-agent.service.d/override.conf",
              f"[Service]\nExecStart=\nExecStart={command}\n")
    result = check.systemd_unit(UNIT, [dropin], exists=lambda path: True)
    assert result.code == Code.WARNING, result.details
    assert said in result.details


def _write(root, path, text):
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_unit_files_are_found_where_systemd_looks_in_its_order(tmp_path):
    from pmem_placement.cmd import check as check_cmd

    assert check_cmd.unit_files(str(tmp_path)) == (None, [])
    _write(tmp_path, "/usr/lib/systemd/system/pmem-placement-agent.service", "[Service]\nExecStart=/usr/bin/x\n")
    _write(tmp_path, "/lib/systemd/system/pmem-placement-agent.service", "[Service]\nExecStart=/lib-wins-not\n")
    _write(tmp_path, "/usr/lib/systemd/system/pmem-placement-agent.service.d/50-vendor.conf", "vendor")
    _write(tmp_path, "/usr/lib/systemd/system/pmem-placement-agent.service.d/override.conf", "hidden by /etc's")
    _write(tmp_path, "/run/systemd/system/pmem-placement-agent.service.d/10-run.conf", "run")
    _write(tmp_path, "/etc/systemd/system/pmem-placement-agent.service.d/override.conf", "etc")
    _write(tmp_path, "/etc/systemd/system/pmem-placement-agent.service.d/notes.txt", "not a drop-in")
    unit, dropins = check_cmd.unit_files(str(tmp_path))
    assert unit == ("/usr/lib/systemd/system/pmem-placement-agent.service", "[Service]\nExecStart=/usr/bin/x\n")
    assert dropins == [("/run/systemd/system/pmem-placement-agent.service.d/10-run.conf", "run"),
                       ("/usr/lib/systemd/system/pmem-placement-agent.service.d/50-vendor.conf", "vendor"),
                       ("/etc/systemd/system/pmem-placement-agent.service.d/override.conf", "etc")]
    _write(tmp_path, "/etc/systemd/system/pmem-placement-agent.service", "[Service]\nExecStart=/etc/x\n")
    assert check_cmd.unit_files(str(tmp_path))[0][0] == "/etc/systemd/system/pmem-placement-agent.service"


@pytest.mark.parametrize("status, code, words", [
    (None, Code.SUCCESS, "no agent status at /s: the agent has not run on this host (fine before its first start"),
    ({"stale": "its process 7 is gone"}, Code.WARNING, "stale: its process 7 is gone"),
    ({"stale": None, "same_config": False}, Code.WARNING, "systemctl reload pmem-placement-agent"),
    ({"stale": None, "same_config": True, "state": "error", "last_error": {"message": "boom"}}, Code.WARNING,
     "the agent is error: boom"),
    ({"stale": None, "same_config": True, "state": "in_sync", "last_attempt": "t"}, Code.SUCCESS, "in sync"),
    ({"stale": None, "same_config": None, "state": "in_sync", "last_attempt": "t"}, Code.SUCCESS, "in sync"),
])
def test_agent(status, code, words):
    result = check.agent(status, "/s")
    assert result.code == code and words in result.details


A = "CUSTOM_PMEM_NAMESPACE_A"
B = "CUSTOM_PMEM_NAMESPACE_B"


@pytest.mark.parametrize("elsewhere, ours, mode, nothing_configured, code, words", [
    ({}, {}, "report", False, Code.SUCCESS, "cn has no PMEM classes of its own, nor any other provider"),
    # reconcile fences ours whatever the labels: a failure, naming who reports PMEM
    ({"cn": [B]}, {}, "report", False, Code.FAILURE, "the compute node provider 'cn' has " + B),
    ({"cn": [A]}, {}, "report", False, Code.FAILURE, "empty nova's [libvirt]pmem_namespaces"),
    ({"cn:cyborg": [B]}, {}, "report", False, Code.FAILURE, "provider 'cn:cyborg' has " + B
     + ": another service reports PMEM"),
    ({"cn": [B]}, {}, "report", True, Code.SUCCESS, "[pmem]namespaces is set empty here"),
    ({"cn": [A]}, {}, "audit", False, Code.SUCCESS, "[pmem]mode = audit: nova reports " + A + " on cn, as intended"),
    ({}, {}, "audit", False, Code.SUCCESS, "cn has no PMEM classes (nova reports none yet)"),
    ({"cn": [A]}, {"cn:pmem": [B]}, "audit", False, Code.WARNING, "cn:pmem (pmem-placement's provider) also "
     "offers " + B + ": the host's PMEM is offered twice (reported_twice)"),
    ({"cn": [A], "cn:cyborg": [B]}, {}, "audit", False, Code.WARNING, "provider 'cn:cyborg' also has " + B),
])
def test_nova_coexistence(elsewhere, ours, mode, nothing_configured, code, words):
    result = check.nova_coexistence("cn", elsewhere, ours, mode, nothing_configured)
    assert result.code == code and words in result.details, result.details


def test_nova_coexistence_not_checked():
    assert check.nova_coexistence(None, {}).code == Code.WARNING


def test_a_drop_in_adding_a_second_exec_start_without_a_reset_is_a_failure():
    """Guards: systemd refuses two ExecStart= for Type=notify; check passed it."""
    dropin = ("/etc/systemd/system/pmem-placement-agent.service.d/override.conf",
              "[Service]\nExecStart=/opt/venv/bin/pmem-placement-agent\n")
    result = check.systemd_unit(UNIT, [dropin], exists=lambda path: True)
    assert result.code == Code.FAILURE
    assert "2 ExecStart= lines, which systemd refuses for Type=notify" in result.details
    assert check.exec_starts(UNIT[1], dropin[1]) == ["/usr/bin/pmem-placement-agent",
                                                     "/opt/venv/bin/pmem-placement-agent"]


def test_a_missing_unit_is_a_warning_only_where_an_agent_is_expected():
    assert check.systemd_unit(None).code == Code.SUCCESS
    assert check.systemd_unit(None, expect_agent=True).code == Code.WARNING


SHIPPED = (pathlib.Path(__file__).parents[2] / "systemd" / "pmem-placement-agent.service").read_text()


@pytest.mark.parametrize("dropin, written, blocked", [
    ("", [("[agent]state_dir", "/var/lib/pmem-placement")], []),
    ("", [("[agent]metrics_file", "/var/lib/node_exporter/textfile_collector")],
     ["[agent]metrics_file (/var/lib/node_exporter/textfile_collector)"]),
    ("[Service]\nReadWritePaths=/var/lib/node_exporter/textfile_collector\n",
     [("[agent]metrics_file", "/var/lib/node_exporter/textfile_collector")], []),
    ("[Service]\nReadWritePaths=-/srv/a /srv/b\n", [("[agent]status_file", "/srv/b/sub")], []),
    ("", [("[agent]state_dir", "/var/lib/pmem-placement-other")], ["[agent]state_dir (/var/lib/pmem-placement-other)"]),
    ("[Service]\nDynamicUser=no\nProtectSystem=full\n",
     [("[agent]metrics_file", "/etc/x"), ("[agent]state_dir", "/srv/s")], ["[agent]metrics_file (/etc/x)"]),
    ("[Service]\nProtectSystem=full\n", [("[agent]metrics_file", "/etc/x"), ("[agent]state_dir", "/srv/s")],
     ["[agent]metrics_file (/etc/x)", "[agent]state_dir (/srv/s)"]),
], ids=["state directory", "metrics elsewhere", "metrics allowed", "a list, optional", "a look-alike path",
        "protect full", "dynamic user is strict whatever protect says"])
def test_what_the_agent_may_write_is_judged_from_the_unit(dropin, written, blocked):
    """Guards: a metrics directory the agent cannot write under its sandbox passed check."""
    texts = (SHIPPED, dropin) if dropin else (SHIPPED,)
    assert check.not_writable(written, *texts) == blocked
    result = check.systemd_unit(("/etc/systemd/system/pmem-placement-agent.service", SHIPPED),
                                [("/x.conf", dropin)] if dropin else [], exists=lambda p: True, written=written)
    assert (result.code == Code.WARNING) == bool(blocked), result.details


def test_systemd_analyze_verify_reports_what_systemd_refuses(tmp_path):
    """The real systemd-analyze where it is installed: a drop-in beside the unit with a second
    ExecStart= and a binary that does not exist."""
    import shutil

    from pmem_placement.cmd import check as check_cmd

    unit = tmp_path / "pmem-placement-agent.service"
    unit.write_text(SHIPPED.replace("Documentation=man:ndctl-list(1)\n", ""))
    said = check_cmd._verify((str(unit), SHIPPED))
    if shutil.which("systemd-analyze") is None:
        assert said is None
        return
    assert said == ["pmem-placement-agent.service: Command /usr/bin/pmem-placement-agent is not executable: No "
                    "such file or directory"]
    (tmp_path / "pmem-placement-agent.service.d").mkdir()
    (tmp_path / "pmem-placement-agent.service.d" / "override.conf").write_text("[Service]\nExecStart=/bin/true\n")
    said = check_cmd._verify((str(unit), SHIPPED))
    assert said is not None and any("more than one ExecStart" in line for line in said), said
    result = check.systemd_unit((str(unit), SHIPPED), [("override.conf", "[Service]\nExecStart=/bin/true\n")],
                                verified=said)
    # each problem once: ours, not systemd-analyze's words for it again
    assert result.code == Code.FAILURE and "systemd-analyze" not in result.details, result.details


@pytest.mark.parametrize("texts, binary", [
    # found by review: a continued line and an unclosed quote were tracebacks
    (["[Service]\nExecStart=/opt/v/bin/pmem-placement-agent \\\n    --config-file /etc/x.conf\n"],
     "/opt/v/bin/pmem-placement-agent"),
    (["[Service]\nExecStart=/opt/v/bin/agent --name 'unclosed\n"], "/opt/v/bin/agent"),
    (["[Service]\n# ExecStart=/commented/out\nExecStart=/b\n"], "/b"),
])
def test_exec_start_as_systemd_reads_lines(texts, binary):
    assert check.exec_start(*texts) == binary


def test_a_binary_systemd_cannot_run_is_named(tmp_path):
    """Found by review: a file without the executable bit passed; a bare name systemd finds failed."""
    plain = tmp_path / "agent"
    plain.write_text("#!/bin/sh\n")
    assert check.runnable(str(plain)) == "is not an executable file"
    assert check.runnable(str(tmp_path)) == "is not an executable file"
    assert check.runnable(str(tmp_path / "missing")) == "does not exist"
    assert check.runnable("true") is None  # systemd looks bare names up in its own search path
    plain.chmod(0o755)
    assert check.runnable(str(plain)) is None


def test_what_systemd_refuses_is_a_failure_and_said_once():
    unit = ("/etc/systemd/system/pmem-placement-agent.service", "[Service]\nExecStart=\nExecStrat=/x\n")
    result = check.systemd_unit(unit, verified=["pmem-placement-agent.service: Service has no ExecStart=, "
                                                "ExecStop=, or SuccessAction=. Refusing."])
    assert result.code == Code.FAILURE
    assert result.details.count("ExecStart") == 1, result.details
    typo = check.systemd_unit(UNIT, exists=lambda p: True, verified=[
        "pmem-placement-agent.service: Unit has a bad unit file setting."])
    assert typo.code == Code.FAILURE


def test_read_write_paths_open_a_path_under_protect_system_full_too():
    texts = ("[Service]\nProtectSystem=full\nReadWritePaths=/etc/pmem-placement\n",)
    assert check.not_writable([("[agent]metrics_file", "/etc/pmem-placement")], *texts) == []
    assert check.not_writable([("[agent]metrics_file", "/etc/other")], *texts) == ["[agent]metrics_file (/etc/other)"]


def test_an_agent_that_cannot_hear_the_host_is_a_warning():
    status = {"state": "in_sync", "last_attempt": "2026-12-02T08:00:00+00:00",
              "events": "unavailable (netlink uevents: Operation not permitted)"}
    result = check.agent(status, "/var/lib/pmem-placement/status.json")
    assert result.code == Code.WARNING and "events: unavailable (netlink uevents" in result.details
    status["events"] = "listening (uevents of dax, memory, nd; 4 health attributes)"
    assert check.agent(status, "/var/lib/pmem-placement/status.json").code == Code.SUCCESS


def _stat(mode, gid=0):
    return lambda path: os.stat_result((0o040000 | mode, 0, 0, 2, 0, gid, 4096, 0, 0, 0))


TEXTFILE = [("[agent]metrics_file", "/var/lib/node_exporter/textfile_collector")]
RW = "[Service]\nReadWritePaths=/var/lib/node_exporter/textfile_collector\n"


@pytest.mark.parametrize("dropin, stat, written, found", [
    (RW, _stat(0o755), TEXTFILE, ["[agent]metrics_file (/var/lib/node_exporter/textfile_collector, mode 0755, group "
                                  "0) cannot be written by the agent's dynamic user: give the directory a group with "
                                  "write access (chgrp, chmod g+w) and name it in SupplementaryGroups="]),
    (RW + "SupplementaryGroups=4242\n", _stat(0o775, gid=4242), TEXTFILE, []),
    (RW + "SupplementaryGroups=4242\n", _stat(0o755, gid=4242), TEXTFILE, ["mode 0755"]),
    (RW + "SupplementaryGroups=4243\n", _stat(0o775, gid=4242), TEXTFILE, ["group 4242"]),
    (RW, _stat(0o1777), TEXTFILE, []),
    (RW + "User=prometheus\n", _stat(0o755), TEXTFILE, []),
    ("", _stat(0o755), [("[agent]state_dir", "/var/lib/pmem-placement")], []),
    ("[Service]\nReadWritePaths=/home/ops\n", _stat(0o777), [("[agent]status_file", "/home/ops")],
     ["[agent]status_file (/home/ops) is hidden from the agent by ProtectHome="]),
    ("[Service]\nReadWritePaths=/tmp\n", _stat(0o1777), [("[agent]metrics_file", "/tmp")],
     ["[agent]metrics_file (/tmp) is in the agent's own /tmp (PrivateTmp=): nothing else sees it"]),
    ("[Service]\nPrivateTmp=no\nReadWritePaths=/tmp\n", _stat(0o1777), [("[agent]metrics_file", "/tmp")], []),
], ids=["root-0755", "group-writable", "group-not-writable", "another-group", "sticky-world", "a-real-user",
        "state-directory", "protect-home", "private-tmp", "private-tmp-off"])
def test_a_directory_the_agent_user_cannot_write_is_a_warning(dropin, stat, written, found):
    """Guards (found by review): a root 0755 directory allowed by ReadWritePaths= passed check,
    although the unit's DynamicUser= cannot write it (the monitoring recipe's case)."""
    texts = (SHIPPED, dropin) if dropin else (SHIPPED,)
    said = check.not_reachable(written, *texts, stat=stat, group_id=lambda name: int(name))
    assert len(said) == len(found) and all(f in s for f, s in zip(found, said)), said
    result = check.systemd_unit(("/etc/systemd/system/pmem-placement-agent.service", SHIPPED),
                                [("/x.conf", dropin)] if dropin else [], exists=lambda p: True, written=written,
                                stat=stat)
    assert (result.code == Code.WARNING) == bool(found), result.details


@pytest.mark.parametrize("dropin, found", [
    ("[Service]\nPrivateTmp=False\nReadWritePaths=/tmp\n", 0),
    ("[Service]\nPrivateTmp=Yes\nReadWritePaths=/tmp\n", 1),
], ids=["false-any-case", "yes-any-case"])
def test_systemd_booleans_in_any_case(dropin, found):
    """Found by review: PrivateTmp=False was taken for on."""
    said = check.not_reachable([("[agent]metrics_file", "/tmp")], SHIPPED, dropin, stat=_stat(0o1777))
    assert len(said) == found


def test_dynamic_user_in_any_case_implies_protect_system_strict():
    texts = (SHIPPED.replace("DynamicUser=yes", "DynamicUser=True"), "[Service]\nProtectSystem=full\n")
    assert check.not_writable([("[agent]state_dir", "/srv/s")], *texts) == ["[agent]state_dir (/srv/s)"]
