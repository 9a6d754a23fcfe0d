"""Tests for bugs that once passed every test (issue 24): each says which bug it guards, and fails
when that bug is put back. Against the real Placement."""

import json
import logging

from tests.functional.agents import Running
from tests.functional.agents import wait_for
from tests.functional.conftest import one_line

SECRET = "s3cr3t-Kq9-not-for-logs"


def test_a_configuration_error_met_while_the_command_runs_exits_2_and_sends_nothing(node):
    """Guards: a configuration error raised while a command runs (an option keystoneauth registers
    only as it loads the auth plugin) exited 1, the retry-later status, instead of 2."""
    node.options["placement"] = {"auth_type": "v3websso", "auth_url": "http://127.0.0.1:9/v3",
                                 "identity_provider": "idp", "protocol": "saml2", "redirect_port": "abc"}
    result = node.run("reconcile")
    assert result.status == 2 and result.requests == []
    assert one_line(result).strip() == (f"pmem-placement: error: [placement]redirect_port = 'abc' in "
                                        f"{node.config_file} is not valid: invalid literal for int() with base 10: 'abc'")
    as_json = node.run("reconcile", "--format", "json")
    # as the same value refused before the run: the type of an invalid value
    assert as_json.status == 2 and json.loads(as_json.out)["error"]["type"] == "ConfigFileValueError"
    check = node.run("check")
    assert check.status == 2
    assert f"Failure  placement: [placement]redirect_port = 'abc' in {node.config_file} is not valid" in check.out


def test_host_pointed_at_another_existing_compute_node_reports_there_not_on_the_old_one(node, admin, compute_node):
    """Guards: trusting the remembered compute node uuid after [DEFAULT]host is pointed at another
    compute node that exists: the new node got no PMEM provider and the old one kept offering this
    host's namespaces as if nothing had changed."""
    assert node.run("reconcile").status == 0
    old_child = admin.child_uuid(node.name)
    other = compute_node()
    node.configure(DEFAULT={"host": other})
    result = node.run("reconcile")
    assert result.status == 0, result.err
    new_child = admin.child_uuid(other)
    assert admin.provider(new_child)["name"] == f"{other}:pmem"
    assert admin.totals(new_child) == {"CUSTOM_PMEM_NAMESPACE_4GB": 1, "CUSTOM_PMEM_NAMESPACE_SMALL": 2}
    assert admin.provider(new_child)["root_provider_uuid"] == admin.root_uuid(other)
    # the old compute node's tree is not written by a run about another compute node
    assert not [path for method, path in result.writes if old_child in path]


def _misspelt_secret(node):
    node.options["placement"] = {"auth_type": "password", "auth_url": "http://127.0.0.1:9/v3",
                                 "username": "placement", "pasword": SECRET, "project_name": "service",
                                 "user_domain_name": "Default", "project_domain_name": "Default"}


def test_a_secret_in_a_misspelt_option_never_reaches_output_json_or_logs(node, caplog):
    """Guards: a secret in a misspelt option ([placement]pasword = ...) was kept out of the "did you
    mean" warning only by comparing it with a dummy value: any other value was printed."""
    _misspelt_secret(node)
    caplog.set_level(logging.DEBUG)
    runs = [node.run("reconcile"), node.run("reconcile", "--format", "json"), node.run("check"),
            node.run("check", "--format", "json"), node.run("show", "--offline"), node.run("--debug", "reconcile")]
    assert [r.status for r in runs] == [2, 2, 2, 2, 0, 2]  # show --offline needs no credentials
    for result in runs:
        assert SECRET not in result.out + result.err
    assert any("did you mean 'password'?" in r.err for r in runs)
    assert all(SECRET not in record.getMessage() for record in caplog.records)


def test_a_secret_in_a_misspelt_option_never_reaches_the_agents_log_status_or_metrics(node):
    """The same guard for an agent that refuses to start on it (exit 2) and logs why (one that runs
    beside it, and reloads, is guarded below)."""
    _misspelt_secret(node)
    agent = Running(node)
    try:
        assert agent.proc.wait(timeout=60) == 2
        out = agent.output()
        assert "did you mean 'password'?" in out and SECRET not in out
        for path in (node.dir / "state" / "status.json", node.dir / "agent.prom"):
            assert not path.exists() or SECRET not in path.read_text()
    finally:
        agent.stop()


def test_a_secret_in_a_misspelt_option_never_reaches_a_running_agents_log_status_or_metrics(node):
    """Found by review: the guard above stops at the agent's refusal to start. Here the agent runs
    (its own token is right) beside a misspelt secret, then is reloaded into a file whose only
    token is misspelt: the warning and the refused reload name the option, never its value."""
    import signal

    node.configure(placement={"pasword": SECRET})
    agent = Running(node)
    try:
        first = agent.wait_state("in_sync")
        node.options["placement"]["toekn"] = SECRET
        del node.options["placement"]["token"]
        node.write_config()
        agent.signal(signal.SIGHUP)
        wait_for(lambda: ((agent.status() or {}).get("last_reload") or {}).get("error"), what="the refused reload")
        agent.wait_state("in_sync", after_cycle=first["cycles"])
        out = agent.output()
        assert "[placement]pasword" in out and "did you mean 'token'?" in out, out
        assert SECRET not in out
        for path in (node.dir / "state" / "status.json", node.dir / "agent.prom"):
            assert SECRET not in path.read_text(), path
    finally:
        agent.stop()
