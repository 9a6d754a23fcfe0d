"""`pmem-placement check`: one line per check, exit 0/1/2, and never a write to Placement."""

import json
import os
import uuid

import pytest

from tests.functional.agents import agent_fingerprint
from tests.functional.agents import write_agent_status
from tests.functional.conftest import check_lines

A4GB = "CUSTOM_PMEM_NAMESPACE_4GB"
SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"


@pytest.fixture
def good(node, agent_lock):
    assert node.run("reconcile").status == 0
    agent_lock(node)  # an agent runs: this process stands for it
    write_agent_status(node, os.getpid(), agent_fingerprint(node))
    return node


def test_a_good_setup_is_all_success_and_reads_only(good):
    result = good.run("check")
    assert result.status == 0, result.out + result.err
    checks = check_lines(result)
    assert list(checks) == ["configuration", "discovery", "placement", "nova coexistence", "state directory", "agent",
                            "systemd unit"]
    assert all(line.startswith("Success  ") for line in checks.values()), result.out
    assert "CUSTOM_PMEM_NAMESPACE_4GB: 1, CUSTOM_PMEM_NAMESPACE_SMALL: 2" in checks["discovery"]
    assert f"compute node {good.name} (" in checks["placement"]
    assert result.requests and result.writes == []


@pytest.mark.parametrize("breakage, check, status, expected", [
    (lambda n: n.options["pmem"].pop("namespaces"), "configuration", 2, "[pmem]namespaces is not set"),
    (lambda n: n.configure(pmem={"namespace": "x"}), "configuration", 1,
     "[pmem]namespace is not an option and is ignored: did you mean 'namespaces'?"),
    (lambda n: n.configure(pmem={"namespaces": "4GB:ns0,SMALL:ns_1|ns_22"}), "discovery", 2,
     "namespace 'ns0' (label '4GB') is not on this host: did you mean 'ns_0'?; namespace 'ns_22' (label 'SMALL') "
     "is not on this host: did you mean 'ns_2'?"),
    (lambda n: n.configure(pmem={"namespaces": "4GB:namespace0.0"}), "discovery", 2, None),
    (lambda n: n.configure(placement={"endpoint": "http://127.0.0.1:9", "connect_retries": 0}), "placement", 2,
     "cannot reach Placement at http://127.0.0.1:9"),
    (lambda n: n.configure(placement={"token": "not-admin"}), "placement", 2, "403"),
    (lambda n: n.configure(DEFAULT={"host": "no-such-compute"}), "placement", 2,
     "no resource provider named 'no-such-compute' in Placement"),
    (lambda n: n.configure(pmem={"conflict_retries": "5"}), "agent", 1,
     "the agent runs with another configuration than these files; reload the agent: "
     "systemctl reload pmem-placement-agent"),
])
def test_each_bad_setup_is_named(good, breakage, check, status, expected):
    breakage(good)
    result = good.run("check")
    assert result.status == status, result.out + result.err
    line = check_lines(result)[check]
    assert line.startswith("Failure  " if status == 2 else "Warning  "), line
    if expected:
        assert expected in line
    assert result.writes == []


def test_a_namespace_given_by_device_name_exists_but_has_no_name(good):
    import json

    from tests import helpers

    good.namespaces_file.write_text(json.dumps([helpers.devdax("ns_0", "namespace0.0"),
                                                helpers.devdax(None, "namespace0.1")]))
    good.configure(pmem={"namespaces": "4GB:ns_0,SMALL:namespace0.1"})
    line = check_lines(good.run("check"))["discovery"]
    assert "namespace 'namespace0.1' (label 'SMALL') exists but has no name" in line


@pytest.mark.parametrize("label", ["4GB", "NOVA"])
def test_nova_double_counting_is_a_failure_whatever_the_labels(node, admin, label):
    """reconcile fences ours whatever the labels: check says Failure, not Warning."""
    name = f"compute-{uuid.uuid4().hex[:8]}"
    admin.create_compute_node(name, {f"CUSTOM_PMEM_NAMESPACE_{label}": {"total": 1}})
    node.configure(DEFAULT={"host": name})
    result = node.run("check")
    assert result.status == 2
    line = check_lines(result)["nova coexistence"]
    assert line.startswith(f"Failure  nova coexistence: the compute node provider {name!r} has "
                           f"CUSTOM_PMEM_NAMESPACE_{label}: nova reports PMEM too"), line
    assert "empty nova's [libvirt]pmem_namespaces" in line and "reconcile fences ours" in line
    assert result.writes == []
    assert node.run("reconcile").status == 1  # what check foretold


def test_pmem_of_another_services_child_is_a_failure(good, admin):
    other = f"{good.name}:cyborg"
    admin.create_child(admin.root_uuid(good.name), other, {"CUSTOM_PMEM_NAMESPACE_FPGA": {"total": 1}})
    result = good.run("check")
    assert result.status == 2, result.out
    line = check_lines(result)["nova coexistence"]
    assert line.startswith(f"Failure  nova coexistence: provider {other!r} has CUSTOM_PMEM_NAMESPACE_FPGA: "
                           "another service reports PMEM in this compute node's tree"), line
    assert "nova.conf" not in line and result.writes == []
    assert good.run("reconcile").status == 1  # reconcile fences ours, as check said


def test_in_audit_mode_novas_pmem_is_intended_and_ours_is_reported_twice(nova, admin):
    from pmem_placement import mapping

    nova.audit_mode()
    result = nova.run("check")
    line = check_lines(result)["nova coexistence"]
    assert line == (f"Success  nova coexistence: [pmem]mode = audit: nova reports {A4GB}, {SMALL} on {nova.name}, "
                    "as intended; 'pmem-placement audit' checks them against the host")
    assert result.status == 0, result.out

    admin.create_child(nova.root, f"{nova.name}:pmem", {"CUSTOM_PMEM_NAMESPACE_OTHER": {"total": 1}},
                       traits=[mapping.MANAGED_TRAIT])
    result = nova.run("check")
    assert result.status == 1, result.out
    line = check_lines(result)["nova coexistence"]
    assert line.startswith(f"Warning  nova coexistence: [pmem]mode = audit: {nova.name}:pmem (pmem-placement's "
                           "provider) also offers CUSTOM_PMEM_NAMESPACE_OTHER"), line
    assert "(reported_twice)" in line and "'pmem-placement remove'" in line
    assert result.writes == []


def test_a_stale_agent_and_secrets_readable_by_all_are_warnings(good):
    import time

    write_agent_status(good, os.getpid(), agent_fingerprint(good), last_attempt=time.time() - 3600)
    good.write_config()
    os.chmod(good.config_file, 0o644)
    result = good.run_as_written("check")
    assert result.status == 1, result.out
    text = result.out
    assert "Warning  agent: the agent's status is stale: no attempt in the last 1800 s" in text
    assert f"Warning  configuration: {good.config_file} holds [placement] credentials and every user can read it" in text


def test_before_the_agent_ever_ran_check_exits_0(node):
    """The install steps run check before starting the agent: 0 must be reachable then."""
    assert node.run("reconcile").status == 0
    result = node.run("check")
    assert result.status == 0, result.out + result.err
    assert check_lines(result)["agent"].startswith("Success  agent: no agent status at ")
    assert "the agent has not run on this host" in check_lines(result)["agent"]


@pytest.mark.parametrize("text, why", [
    ('{"state":', "is corrupt (not JSON"),
    ("[1, 2]", "is corrupt (not a JSON object)"),
])
def test_a_corrupt_status_file_is_named_not_taken_for_no_agent(good, text, why):
    path = good.dir / "state" / "status.json"
    path.write_text(text)
    result = good.run("check")
    assert result.status == 1, result.out + result.err
    line = check_lines(result)["agent"]
    assert line.startswith(f"Warning  agent: the agent's status file {path} {why}"), line
    assert "has not run" not in line


def test_when_the_configuration_fails_its_line_keeps_the_hint(good, admin):
    good.options["pmem"]["namespace"] = good.options["pmem"].pop("namespaces")
    line = check_lines(good.run("check"))["configuration"]
    assert line.startswith("Failure  configuration: ")
    assert "[pmem]namespace is not an option and is ignored: did you mean 'namespaces'?" in line
    assert "[pmem]namespaces is not set" in line
    # written in [DEFAULT] instead of [pmem]
    good.configure(DEFAULT={"namespaces": good.options["pmem"].pop("namespace")})
    result = good.run("check")
    assert result.status == 2 and result.writes == []
    line = check_lines(result)["configuration"]
    assert "[DEFAULT]namespaces is not an option and is ignored: did you mean [pmem]namespaces?" in line


ALL_CHECKS = ["configuration", "discovery", "placement", "nova coexistence", "state directory", "agent",
              "systemd unit"]


@pytest.mark.parametrize("breakage, expected", [
    (lambda n: n.configure(agent={"interval": "soon"}),
     "[agent]interval = 'soon' in {file} is not valid: "),
    (lambda n: n.configure(placement={"timeout": "abc"}), "[placement]timeout = 'abc' in {file} is not valid: "),
], ids=["agent interval", "placement timeout"])
def test_an_invalid_value_still_prints_every_check_once(node, breakage, expected):
    """Guards: an invalid value printed one error line and no check lines."""
    breakage(node)
    result = node.run("check")
    assert result.status == 2 and "Traceback" not in result.err
    checks = check_lines(result)
    assert list(checks) == ALL_CHECKS
    assert checks["configuration"].startswith("Failure  configuration: " + expected.format(file=node.config_file))
    for name in ("discovery", "placement", "nova coexistence", "state directory"):
        assert checks[name] == f"Warning  {name}: not run: fix the configuration first"
    assert result.writes == [] and result.requests == []


def test_a_misspelt_option_is_said_once(node):
    """Guards: configuration warnings were printed twice (logged, then in the check's line)."""
    node.configure(pmem={"namespace": "x"})
    result = node.run("check")
    assert result.status == 1
    assert (result.out + result.err).count("[pmem]namespace is not an option") == 1


def test_check_in_json_is_one_object_with_every_check_and_the_code(node):
    node.configure(agent={"interval": "soon"})
    result = node.run("check", "--format", "json")
    data = json.loads(result.out)
    assert result.status == data["code"] == 2
    assert [c["name"] for c in data["checks"]] == ALL_CHECKS
    assert data["checks"][0]["result"] == "Failure" and "[agent]interval = 'soon'" in data["checks"][0]["details"]
    assert {c["result"] for c in data["checks"][1:5]} == {"Warning"}
    node.configure(agent={"interval": "60"})
    good = json.loads(node.run("check", "--format", "json").out)
    assert good["code"] == 0 and {c["result"] for c in good["checks"]} == {"Success"}


def test_an_agent_expected_without_its_unit_is_a_warning_and_a_one_shot_host_is_not(node):
    assert node.run("check").status == 0  # no agent status, no unit: a one-shot-only host
    expected = node.run("check", "--expect-agent")
    assert expected.status == 1
    assert "no pmem-placement-agent.service installed, yet this host runs the agent" in \
        check_lines(expected)["systemd unit"]
    # An agent ran here and is not running now: systemd would start it.
    write_agent_status(node, 999999, agent_fingerprint(node))
    assert check_lines(node.run("check"))["systemd unit"].startswith("Warning  systemd unit: no ")
