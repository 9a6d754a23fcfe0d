"""The console scripts as an operator meets them: typos that must not cost a provider, and a CLI
that behaves like the OpenStack clients."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests import helpers
from tests.functional.agents import agent_fingerprint
from tests.functional.agents import write_agent_status
from tests.functional.conftest import requests_from_now
from tests.functional.conftest import writes

BIN = pathlib.Path(sys.executable).parent
CLI = str(BIN / "pmem-placement")
AGENT = str(BIN / "pmem-placement-agent")


def run(*args, **kwargs):
    return subprocess.run([*args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, **kwargs)


def console(node, *args):
    """``pmem-placement --config-file <node's> ARGS`` as a real process; requests it caused."""
    node.write_config()
    sent = requests_from_now(node.placement)
    proc = run(CLI, "--config-file", str(node.config_file), *args)
    proc.requests = sent()
    proc.writes = writes(proc.requests)
    return proc


def _typo_option(node):
    node.options["pmem"]["namespace"] = node.options["pmem"].pop("namespaces")


def _typo_section(node):
    node.options["pmme"] = node.options.pop("pmem")


def _secrets_only(node):
    node.options = {"placement": node.options["placement"]}


@pytest.mark.parametrize("typo, warning", [
    (_typo_option, "[pmem]namespace is not an option and is ignored: did you mean 'namespaces'?"),
    (_typo_section, "section [pmme] is not one of ours and is ignored: did you mean [pmem]?"),
    (_secrets_only, None),
])
def test_a_typo_exits_2_writes_nothing_and_keeps_the_provider(node, admin, typo, warning):
    assert console(node, "reconcile").returncode == 0
    root = admin.root_uuid(node.name)
    before = admin.snapshot(root)
    if typo is _secrets_only:
        node.options["DEFAULT"] = {"host": node.name}  # only the host, as a host name default would be
    typo(node)
    proc = console(node, "reconcile")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.writes == [] and proc.requests == []
    assert ("pmem-placement: error: [pmem]namespaces is not set: list the namespaces to report "
            "(LABEL:NS[|NS...], e.g. 4GB:ns_0), or set it empty to remove the PMEM provider") in proc.stderr
    if warning:
        assert warning in proc.stderr
    assert "Traceback" not in proc.stderr
    assert admin.snapshot(root) == before


def test_explicitly_empty_namespaces_removes_the_provider(node, admin):
    assert console(node, "reconcile").returncode == 0
    node.configure(pmem={"namespaces": ""})
    proc = console(node, "reconcile")
    assert proc.returncode == 0, proc.stderr
    assert admin.provider(admin.child_uuid(node.name)) is None


def test_the_agent_refuses_an_unset_mapping_too(node, admin):
    del node.options["pmem"]["namespaces"]
    (node.dir / "state").mkdir()
    agent = node.agent()
    assert not agent.cycle()
    assert agent.status.state == "error"
    assert "set it empty to remove the PMEM provider" in agent.status.last_error["message"]


def test_version_on_both_commands():
    for binary in (CLI, AGENT):
        proc = run(binary, "--version")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "0.2.0"
    proc = run(CLI, "reconcile", "--version")  # a global option, after the subcommand too
    assert (proc.returncode, proc.stdout.strip()) == (0, "0.2.0"), proc.stderr


def test_global_options_after_the_subcommand(node):
    node.write_config()
    proc = run(CLI, "reconcile", "--dry-run", "--config-file", str(node.config_file), "--format", "json")
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["status"] == "would_change"
    proc = run(CLI, "show", f"--config-file={node.config_file}", "--debug")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("command", ["reconcile", "show", "check", "remove", "demo"])
def test_every_subcommand_help_has_a_description_and_exit_statuses(command):
    proc = run(CLI, command, "--help")
    assert proc.returncode == 0
    usage, _, rest = proc.stdout.partition("\n\n")
    assert usage.startswith(f"usage: pmem-placement {command}")
    description = rest.split("\n\n")[0]
    assert len(description) > 80, description
    assert "exit status:\n  0  " in proc.stdout and "\n  2  " in proc.stdout


def test_a_closed_stdout_ends_quietly(node):
    node.write_config()
    for args in (["show"], ["reconcile", "--format", "json"]):
        proc = subprocess.Popen([CLI, "--config-file", str(node.config_file), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        proc.stdout.close()  # the reader is gone before anything is written, like `| head -0`
        err = proc.stderr.read()
        proc.wait(timeout=120)
        assert "Traceback" not in err and "BrokenPipe" not in err, err
        assert err == ""


def test_demo_without_its_extra_says_what_to_install():
    code = ("import sys; sys.modules['placement'] = None; from pmem_placement.cmd.cli import main; "
            "sys.exit(main(['demo']))")
    proc = run(sys.executable, "-c", code)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("pmem-placement: error: the demo needs openstack-placement, which is not "
                                   "installed: pip install 'pmem-placement[demo]'")


def test_an_invalid_value_names_section_option_value_and_file(node):
    node.configure(agent={"interval": "soon"})
    proc = console(node, "reconcile")
    assert proc.returncode == 2
    assert proc.stderr == (f"pmem-placement: error: [agent]interval = 'soon' in {node.config_file} is not valid: "
                           "invalid literal for int() with base 10: 'soon'\n")
    node.configure(agent={"interval": "60"}, pmem={"discovery": "ndctll"})
    proc = console(node, "show")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"pmem-placement: error: [pmem]discovery = 'ndctll' in {node.config_file} "
                                  "is not valid: Valid values are")
    assert "LocationInfo" not in proc.stderr
    node.configure(pmem={"discovery": "file"}, placement={"timeout": "abc"})
    proc = console(node, "reconcile")
    assert proc.returncode == 2 and proc.requests == []
    assert proc.stderr == (f"pmem-placement: error: [placement]timeout = 'abc' in {node.config_file} is not valid: "
                           "could not convert string to float: 'abc'\n")


@pytest.mark.parametrize("command", ["reconcile", "show"])
def test_json_is_printed_on_configuration_errors(node, command):
    del node.options["pmem"]["namespaces"]
    proc = console(node, command, "--format", "json")
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["error"]["type"] == "ConfigError" and "is not set" in data["error"]["message"]
    node.configure(pmem={"namespaces": "4GB:ns_0"}, agent={"interval": "soon"})
    proc = console(node, command, "--format", "json")
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert "[agent]interval = 'soon'" in data["error"]["message"]
    if command == "reconcile":
        assert list(data) == ["status", "dry_run", "host", "provider", "changes", "inventories", "traits",
                              "requests", "failsafe", "error"]
        assert data["status"] == "error"
    else:
        assert list(data) == ["host", "namespaces", "missing", "offline", "placement", "agent", "error"]


def test_a_label_that_is_already_a_class_name_is_refused(node, admin):
    node.configure(pmem={"namespaces": "CUSTOM_PMEM_NAMESPACE_4GB:ns_0"})
    proc = console(node, "reconcile")
    assert proc.returncode == 2 and proc.requests == []
    assert "label 'CUSTOM_PMEM_NAMESPACE_4GB' is already a resource class name: write the label alone ('4GB')" \
        in proc.stderr


def test_every_namespace_typo_at_once_with_hints(node):
    node.configure(pmem={"namespaces": "4GB:ns0,SMALL:ns_1|ns_22"})
    proc = console(node, "reconcile")
    assert proc.returncode == 2 and proc.writes == []  # nothing to withdraw: no provider yet
    assert "namespace 'ns0' (label '4GB') is not on this host: did you mean 'ns_0'?" in proc.stderr
    assert "namespace 'ns_22' (label 'SMALL') is not on this host: did you mean 'ns_2'?" in proc.stderr


def test_the_one_shot_says_it_waits_for_the_lock_and_honours_lock_timeout(node, admin):
    with helpers.held_lock(node.dir / "state"):
        proc = console(node, "reconcile", "--lock-timeout", "0.3")
    assert proc.returncode == 1
    assert "waiting for the host's lock" in proc.stderr and "for up to 0.3 s" in proc.stderr
    assert "still held by another pmem-placement (the agent?) after 0.3 s: nothing was written" in proc.stderr
    assert proc.writes == []
    assert admin.provider(admin.child_uuid(node.name)) is None
    proc = console(node, "reconcile", "--lock-timeout", "5")
    assert proc.returncode == 0 and "waiting" not in proc.stderr


def test_the_one_shot_warns_when_the_agent_runs_another_configuration(node, agent_lock):
    agent_lock(node)
    write_agent_status(node, os.getpid(), agent_fingerprint(node))
    proc = console(node, "reconcile")
    assert proc.returncode == 0 and proc.stderr == ""
    node.configure(pmem={"namespaces": "4GB:ns_0|ns_1,SMALL:ns_2"})  # edited, agent not reloaded
    proc = console(node, "reconcile")
    assert proc.returncode == 0
    assert "reload the agent: systemctl reload pmem-placement-agent" in proc.stderr


def test_insecure_silences_urllib3_in_favour_of_our_warning(node):
    node.configure(placement={"insecure": "true"})
    code = ("import sys, warnings; from urllib3.exceptions import InsecureRequestWarning; "
            "from pmem_placement.cmd.cli import main; status = main(sys.argv[1:]); "
            "warnings.warn('per request', InsecureRequestWarning); sys.exit(status)")
    node.write_config()
    proc = run(sys.executable, "-c", code, "--config-file", str(node.config_file), "reconcile")
    assert proc.returncode == 0, proc.stderr
    assert "Placement's TLS certificate is NOT verified" in proc.stderr
    assert "per request" not in proc.stderr


def test_the_agent_records_the_fingerprint_the_one_shot_compares(node):
    (node.dir / "state").mkdir()
    assert node.agent().cycle()
    status = json.loads((node.dir / "state" / "status.json").read_text())
    assert status["config_fingerprint"] == agent_fingerprint(node)
    node.configure(pmem={"traits": "CUSTOM_FAST"})
    assert status["config_fingerprint"] != agent_fingerprint(node)


def test_an_invalid_value_of_a_command_line_option_in_a_file_is_a_configuration_error(node, admin):
    """[DEFAULT]debug is also --debug: oslo.config checks it apart from the others."""
    assert console(node, "reconcile").returncode == 0
    before = admin.snapshot(admin.root_uuid(node.name))
    node.configure(DEFAULT={"debug": "maybe"})
    expected = f"[DEFAULT]debug = 'maybe' in {node.config_file} is not valid: Unexpected boolean value 'maybe'"
    proc = console(node, "reconcile", "--format", "json")
    assert proc.returncode == 2 and proc.requests == []
    assert proc.stderr == f"pmem-placement: error: {expected}\n"
    data = json.loads(proc.stdout)
    assert data["status"] == "error" and data["error"]["message"] == expected
    proc = run(AGENT, "--config-file", str(node.config_file))
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"pmem-placement-agent: error: {expected}\n")
    assert admin.snapshot(admin.root_uuid(node.name)) == before


def test_the_same_mapping_written_differently_is_the_same_configuration(node, agent_lock):
    agent_lock(node)
    write_agent_status(node, os.getpid(), agent_fingerprint(node))  # the agent runs 4GB:ns_0,SMALL:ns_1|ns_2
    node.configure(pmem={"namespaces": " SMALL:ns_2 | ns_1 , 4GB:ns_0 "})
    proc = console(node, "reconcile")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "Success  agent: in sync" in console(node, "check").stdout


@pytest.mark.parametrize("command", ["reconcile", "remove"])
@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_lock_timeout_must_be_a_number_of_seconds(node, command, value):
    proc = console(node, command, f"--lock-timeout={value}")
    assert proc.returncode == 2 and proc.requests == []
    assert f"argument --lock-timeout: {value!r} is not a number of seconds" in proc.stderr


def test_a_device_name_in_the_mapping_is_explained_the_same_by_reconcile_and_show(node, admin):
    node.namespaces_file.write_text(json.dumps([helpers.devdax("ns_0", "namespace0.0"),
                                                helpers.devdax("ns_1", "namespace0.1"),
                                                helpers.devdax(None, "namespace0.2")]))
    node.configure(pmem={"namespaces": "4GB:ns_0,SMALL:namespace0.1|namespace0.2"})
    proc = console(node, "reconcile")
    assert proc.returncode == 2 and proc.writes == []  # nothing to withdraw: no provider yet
    assert ("namespace 'namespace0.1' (label 'SMALL') is the device of namespace 'ns_1': namespaces are given "
            "by name, use 'ns_1'") in proc.stderr
    assert "namespace 'namespace0.2' (label 'SMALL') exists but has no name" in proc.stderr
    proc = console(node, "show", "--offline", "--format", "json")
    data = json.loads(proc.stdout)
    assert data["missing"] == []
    status = {row["dev"]: row["status"] for row in data["namespaces"]}
    assert status["namespace0.1"] == ("given by its device name 'namespace0.1' (label 'SMALL'): namespaces are "
                                      "given by name, use 'ns_1'")
    assert status["namespace0.2"] == ("given by its device name 'namespace0.2' (label 'SMALL'): it has no name; "
                                      "name it and configure that name")
    assert "is not on this host" not in console(node, "show", "--offline").stdout


def test_ctrl_c_while_waiting_for_the_lock_still_prints_the_json(node, admin):
    import signal
    import time

    with helpers.held_lock(node.dir / "state"):
        node.write_config()
        proc = subprocess.Popen([CLI, "--config-file", str(node.config_file), "reconcile", "--format", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        line = ""
        while "waiting for the host's lock" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err == "pmem-placement: error: interrupted (Ctrl-C) before the run finished\n"
    data = json.loads(out)
    assert data["status"] == "error" and data["host"] == node.name
    assert data["error"] == {"type": "Interrupted", "message": "interrupted (Ctrl-C) before the run finished"}
    assert admin.provider(admin.child_uuid(node.name)) is None


def test_a_full_stdout_is_one_line_not_a_traceback(node):
    node.write_config()
    with open("/dev/full", "w") as full:
        proc = subprocess.run([CLI, "--config-file", str(node.config_file), "show", "--offline"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1
    assert proc.stderr == "pmem-placement: error: cannot write the result to stdout: No space left on device\n"


def test_an_unknown_option_after_a_subcommand_shows_that_subcommands_usage(node):
    proc = console(node, "reconcile", "--bogus")
    assert proc.returncode == 2 and proc.requests == []
    assert proc.stderr.startswith("usage: pmem-placement reconcile [-h] [--dry-run]")
    assert proc.stderr.endswith("pmem-placement reconcile: error: unrecognized arguments: --bogus\n")
