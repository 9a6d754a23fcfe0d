"""Every mistake in [placement] and every odd answer is one line naming what to fix: never a
traceback, the documented exit status, JSON printed, and the same kind in the agent's status.
Against the real Placement; Keystone is played by requests-mock where one must answer, and is an
auth_url nothing listens on where none must."""

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
import requests_mock

from pmem_placement.cmd import cli
from pmem_placement.errors import ConfigError
from tests import helpers
from tests.functional.conftest import one_line
from tests.functional.faults import Applied
from tests.functional.faults import Reshaped
from tests.functional.keystone import KEYSTONE
from tests.functional.keystone import keystone
from tests.functional.keystone import keystone_token_body
from tests.functional.keystone import password_auth

COMMANDS = [("reconcile",), ("show",), ("remove",)]


def a_port_nothing_listens_on():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def json_error(node, *command):
    result = node.run(*command, "--format", "json")
    assert "Traceback" not in result.err
    return result.status, json.loads(result.out)["error"]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_misspelt_password_is_a_configuration_error_naming_the_option(node, command):
    """Guards: keystoneauth's password plugin loaded without its password raised a bare Exception
    ('password is a required attribute') at the first request: a traceback, exit 1."""
    password_auth(node)
    node.configure(placement={"password": None, "pasword": "x"})
    result = node.run(*command)
    assert result.status == 2 and result.requests == [] and "Traceback" not in result.err
    # The warning about the misspelt option, then the error naming both.
    warning, error = result.err.splitlines()
    assert warning.endswith(f"{node.config_file}: [placement]pasword is not an option and is ignored: did you "
                            "mean 'password'?")
    assert error == ("pmem-placement: error: [placement]password is not set, and auth_type = password needs it "
                     f"([placement]pasword in {node.config_file} is not an option: did you mean 'password'?)")
    if command != ("remove",):  # remove prints text only
        status, error = json_error(node, *command)
        assert status == 2 and error["type"] == "ConfigError" and "[placement]password is not set" in error["message"]


def test_a_misspelt_password_in_check_and_in_the_agent(node):
    password_auth(node)
    node.configure(placement={"password": None, "pasword": "x"})
    check = node.run("check")
    assert check.status == 2 and "Traceback" not in check.err + check.out
    assert "Failure  placement: [placement]password is not set, and auth_type = password needs it" in check.out
    agent = node.agent()
    assert not agent.cycle()
    assert agent.status.state == "error" and agent.status.last_error["kind"] == "config_error"


def test_admin_token_without_token_is_a_configuration_error(node):
    node.configure(placement={"token": None})
    result = node.run("reconcile")
    assert result.status == 2 and result.requests == []
    assert one_line(result) == ("pmem-placement: error: [placement]token is not set, and auth_type = admin_token "
                                "needs it\n")


def test_keystone_down_is_named_with_its_url_not_placement(node):
    """Guards: a Keystone that refuses connections read 'cannot reach Placement (GET /)'."""
    keystone_url = f"http://127.0.0.1:{a_port_nothing_listens_on()}/v3"
    password_auth(node, password="secret")
    node.configure(placement={"auth_url": keystone_url, "connect_retries": 0})
    result = node.run("reconcile")
    assert result.status == 1 and result.requests == []
    assert one_line(result) == (f"pmem-placement: error: cannot reach Keystone at {keystone_url} ([placement]"
                                "auth_url) to authenticate to Placement: Connection refused\n")
    status, error = json_error(node, "show")
    assert status == 1 and error["type"] == "Unavailable" and keystone_url in error["message"]
    agent = node.agent()
    assert not agent.cycle()
    assert agent.status.state == "degraded" and agent.status.last_error["kind"] == "unavailable"
    assert keystone_url in agent.status.last_error["message"]


def test_keystone_refusing_names_its_url(node, placement):
    password_auth(node)
    with requests_mock.Mocker(real_http=True) as mocker:
        keystone(mocker, token_status=401)
        result = node.run("reconcile")
    assert result.status == 2
    assert f"Keystone at {KEYSTONE} refused the [placement] credentials with 401" in one_line(result)


def test_placement_down_after_keystone_answered_is_placement(node, placement):
    password_auth(node)
    dead = f"http://127.0.0.1:{a_port_nothing_listens_on()}"
    node.configure(placement={"connect_retries": 0})
    with requests_mock.Mocker(real_http=True) as mocker:
        keystone(mocker, body=keystone_token_body(dead))
        result = node.run("reconcile")
    assert result.status == 1
    assert one_line(result).startswith(f"pmem-placement: error: cannot reach Placement at {dead} (GET ")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_wrong_endpoint_path_says_so_and_where_placement_answers(node, placement, command):
    """Guards: endpoint = http://host:port/placement on a Placement served at / read
    '404 placement.undefined_code', exit 1, no hint."""
    node.configure(placement={"endpoint": placement.url + "/placement"})
    result = node.run(*command)
    assert result.status == 1 and result.writes == []
    err = one_line(result)
    assert f"{placement.url}/placement/resource_providers" in err
    assert "answered 404, which Placement never answers there" in err
    assert "is [placement]endpoint_override (or endpoint, or the catalog) Placement's root?" in err
    assert err.endswith(f"; {placement.url} answers as Placement\n")
    if command != ("remove",):
        status, error = json_error(node, *command)
        assert status == 1 and error["type"] == "NotJson"


def test_an_endpoint_that_is_some_other_web_server_is_named_without_a_guess(node):
    # Nothing answers as Placement anywhere near: no suggestion, just what it should look like.
    node.configure(placement={"endpoint": f"http://127.0.0.1:{a_port_nothing_listens_on()}/x"})
    with requests_mock.Mocker(real_http=True) as mocker:
        mocker.get(requests_mock.ANY, text="<html>hello</html>", headers={"Content-Type": "text/html"})
        result = node.run("reconcile")
    err = one_line(result)
    assert result.status == 1 and "with text/html, not Placement's JSON: is [placement]endpoint_override" in err
    assert "answers as Placement" not in err


def test_a_replayed_delete_that_finds_the_provider_gone_is_success(node, admin, faults):
    """Guards: Placement deleted the provider, the answer was lost (503), keystoneauth replayed the
    DELETE and got 404: remove exited 1 although the provider was gone."""
    assert node.run("reconcile").status == 0
    child = admin.child_uuid(node.name)
    faults.inject(1, Applied(503), method="DELETE", path_end=child)
    result = node.run("remove")
    assert result.status == 0, result.err
    assert [m for m, _ in result.writes].count("DELETE") == 2
    assert admin.provider(child) is None


@pytest.mark.parametrize("command", [("reconcile",), ("show",)], ids=" ".join)
def test_an_answer_without_a_key_we_need_is_one_line_naming_the_request(node, faults, command):
    """Guards: a 200 answer lacking 'resource_providers' was a KeyError traceback, and --format json
    printed nothing."""
    faults.inject(2, Reshaped(lambda body: {"providers": body["resource_providers"]}), method="GET",
                  path_end="/resource_providers")
    result = node.run(*command)
    assert result.status == 1
    assert one_line(result).startswith(
        "pmem-placement: error: Placement's answer to GET /resource_providers?name=")
    assert "is not shaped as Placement's (no 'resource_providers')" in result.err
    status, error = json_error(node, *command)
    assert status == 1 and error["type"] == "UnexpectedAnswer"


@pytest.mark.parametrize("written", ["{name}.example.org", "{upper}"], ids=["fqdn", "case"])
def test_a_host_name_nova_spells_otherwise_is_answered_with_the_name_it_registered(node, written):
    """Guards: [DEFAULT]host = compute-1.example.org where nova registered compute-1 read 'no resource
    provider named ...' with no suggestion, and show exited 0."""
    registered = node.name
    node.configure(DEFAULT={"host": written.format(name=registered, upper=registered.upper())})
    result = node.run("reconcile")
    assert result.status == 1 and result.writes == []
    assert f"did you mean {registered!r}? Set [DEFAULT]host to the name nova-compute registered" in one_line(result)
    # Looked up by name, never by listing every provider.
    assert all("?name=" in path for method, path in result.requests if path.startswith("/resource_providers?"))
    show = node.run("show")
    assert show.status == 1 and "Placement: no resource provider named" in show.out
    status, error = json_error(node, "show")
    assert status == 1 and error["type"] == "ComputeNodeNearMiss"
    agent = node.agent()
    assert not agent.cycle()
    assert agent.status.state == "error" and agent.status.last_error["kind"] == "compute_node_near_miss"


def test_show_exits_1_when_there_is_no_compute_node_at_all(node):
    node.configure(DEFAULT={"host": "nowhere-at-all"})
    result = node.run("show")
    assert result.status == 1
    assert "Placement: no resource provider named 'nowhere-at-all' in Placement" in result.out


@pytest.mark.parametrize("target", ["bandwidth", "ours"])
def test_root_provider_uuid_must_name_a_compute_node(node, admin, target):
    """Guards: pointed at a NIC's bandwidth provider the run created <nic>:pmem under neutron's
    provider; pointed at our own :pmem provider it claimed that nova reports PMEM itself."""
    root = admin.root_uuid(node.name)
    if target == "bandwidth":
        uuid_ = admin.create_child(root, f"{node.name}:eth0:bw", {"CUSTOM_NET_BW_KILOBIT": {"total": 1000}})
        name = f"{node.name}:eth0:bw"
    else:
        assert node.run("reconcile").status == 0
        uuid_, name = admin.child_uuid(node.name), f"{node.name}:pmem"
    before = admin.snapshot(root)
    node.configure(pmem={"root_provider_uuid": uuid_})
    result = node.run("reconcile")
    assert result.status == 2 and result.writes == []
    assert one_line(result) == (
        f"pmem-placement: error: [pmem]root_provider_uuid = {uuid_} is {name!r}, which is not a compute node: it "
        f"is a provider under {node.name!r} ({root}): set the compute node's uuid, or unset it to find the "
        "compute node by [DEFAULT]host\n")
    assert admin.snapshot(root) == before


def test_a_compute_node_name_with_no_room_for_ours_is_refused_before_anything_is_written(node, admin, placement):
    """Placement takes names of up to 200 characters; <name>-<uuid8>:pmem needs 14 more."""
    name = "n" * 178 + uuid.uuid4().hex[:9]  # 187
    admin.create_compute_node(name)
    node.configure(DEFAULT={"host": name}, pmem={"namespaces": "NEVER_CREATED_1:ns_0", "traits": "CUSTOM_NEVER_1"})
    result = node.run("reconcile")
    assert result.status == 2 and result.writes == []
    assert "is 187 characters long" in one_line(result)
    assert "pmem-placement serves compute node names of up to 186: nothing was written" in result.err
    check = node.run("check")
    assert check.status == 2 and "is 187 characters long" in check.out
    ok = "m" * 177 + uuid.uuid4().hex[:9]  # 186: served
    admin.create_compute_node(ok)
    node.configure(DEFAULT={"host": ok}, pmem={"namespaces": "4GB:ns_0", "traits": ""})
    assert node.run("reconcile").status == 0


def test_a_compute_node_renamed_to_a_name_too_long_keeps_our_provider_as_it_is(node, admin):
    assert node.run("reconcile").status == 0
    root = admin.root_uuid(node.name)
    before = admin.snapshot(root)
    long_name = node.name + "x" * (187 - len(node.name))
    admin.rename(root, long_name)
    node.configure(DEFAULT={"host": long_name})
    result = node.run("reconcile")
    assert result.status == 1 and result.writes == []
    assert f"{node.name}:pmem is kept as it is" in one_line(result)
    child = admin.child_uuid(long_name)
    assert admin.snapshot(root)[child] == before[child]


def test_no_configuration_file_at_all_says_so(tmp_path, monkeypatch):
    """Guards: with no file the error was '[pmem]namespaces is not set'."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not os.path.exists("/etc/pmem-placement/pmem-placement.conf")
    for args, as_json in ((["show", "--offline"], False), (["reconcile", "--format", "json"], True)):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(args)
        assert status == 2
        assert err.getvalue() == ("pmem-placement: error: no configuration file: /etc/pmem-placement/pmem-placement"
                                  ".conf does not exist, and none was given with --config-file\n")
        if as_json:
            assert json.loads(out.getvalue())["error"]["message"].startswith("no configuration file")


def test_a_configuration_file_that_cannot_be_read_says_permission_denied(node, tmp_path):
    node.write_config()
    secrets = tmp_path / "secrets.conf"
    secrets.write_text("[placement]\ntoken = x\n")
    secrets.chmod(0)
    # root reads any file: run without the capabilities that let it
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    proc = subprocess.run([*prefix, sys.executable, "-m", "pmem_placement.cmd.cli", "--config-file",
                           str(node.config_file), "--config-file", str(secrets), "show", "--offline"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"pmem-placement: error: cannot read the configuration file {secrets}: permission denied "
                           "(it holds secrets: run as root, or as a user in its group)\n")


def test_sections_are_warned_about_as_oslo_config_reads_them(node, tmp_path):
    """Guards: [Agent] was warned about as ignored while oslo.config applies it; [default] (which
    oslo.config ignores) was not warned about."""
    node.write_config()
    text = node.config_file.read_text().replace("[agent]", "[Agent]").replace("[pmem]", "[PMEM]")
    node.config_file.write_text(text + "[default]\ndebug = true\n")
    result = node.run_as_written("show", "--offline", "--format", "json")
    assert result.status == 0
    assert result.err.count("WARNING") == 1
    assert f"{node.config_file}: section [default] is not one of ours and is ignored: did you mean [DEFAULT]?" \
        in result.err
    assert [ns["name"] for ns in json.loads(result.out)["namespaces"] if ns["status"] == "configured"] == \
        ["ns_0", "ns_1", "ns_2"]


def test_an_application_credential_without_its_secret_is_a_configuration_error(node):
    """Guards (found by review): keystoneauth's OptionError ('You must provide an auth secret.') was a
    traceback in every command, and the agent died at start."""
    node.configure(placement={"auth_type": "v3applicationcredential", "endpoint": None, "token": None,
                              "auth_url": KEYSTONE, "application_credential_id": "abc",
                              "application_credential_secert": "s"})
    result = node.run("reconcile")
    assert result.status == 2 and result.requests == []
    assert one_line_after_warnings(result) == (
        "pmem-placement: error: [placement]application_credential_secret is not set, and auth_type = "
        f"v3applicationcredential needs it ([placement]application_credential_secert in {node.config_file} is "
        "not an option: did you mean 'application_credential_secret'?)")
    agent = node.agent()
    assert not agent.cycle()
    assert agent.status.last_error["kind"] == "config_error"


@pytest.mark.parametrize("options, expected", [
    ({"auth-url": KEYSTONE, "auth_url": None},
     "[placement]: auth_type 'password' in {file} needs auth_url ([placement]auth-url in {file} is not an option: "
     "did you mean 'auth_url'?)"),
    ({"auth_url": "keystone.invalid:5000/v3"},
     "[placement]auth_url = 'keystone.invalid:5000/v3' is not a URL: http:// or https:// then a host, e.g. "
     "https://keystone.example.org:5000/v3"),
], ids=["dashed name", "no scheme"])
def test_auth_options_keystoneauth_would_fail_on_late_are_configuration_errors(node, options, expected):
    password_auth(node, password="secret")
    node.configure(placement=options)
    result = node.run("reconcile")
    assert result.status == 2 and result.requests == []
    assert one_line_after_warnings(result) == "pmem-placement: error: " + expected.format(file=node.config_file)


def test_admin_token_without_endpoint_is_a_configuration_error(node):
    node.configure(placement={"endpoint": None, "endpont": "http://x"})
    result = node.run("reconcile")
    assert result.status == 2 and result.requests == []
    assert one_line_after_warnings(result).startswith(
        "pmem-placement: error: [placement]endpoint is not set, and auth_type = admin_token needs it")


def test_keystone_finding_the_credentials_incomplete_names_it(node, placement):
    password_auth(node)
    with requests_mock.Mocker(real_http=True) as mocker:
        keystone(mocker, token_status=400)
        result = node.run("reconcile")
    assert result.status == 2
    assert f"Keystone at {KEYSTONE} refused the [placement] credentials as incomplete with 400" in one_line(result)


@pytest.mark.parametrize("auth_url", [KEYSTONE, "http://keystone.invalid/"], ids=["versioned", "unversioned"])
def test_a_keystone_that_answers_a_web_page_is_one_line(node, auth_url):
    """Guards (found by review): keystoneauth quoted the page whole, over several lines."""
    password_auth(node, password="secret")
    node.configure(placement={"auth_url": auth_url})
    page = "<!DOCTYPE HTML>\n<html>\n<head><title>Directory listing</title></head>\n" + "<li>x</li>\n" * 200
    with requests_mock.Mocker(real_http=True) as mocker:  # as python3 -m http.server answers
        mocker.get(requests_mock.ANY, text=page, headers={"Content-Type": "text/html"})
        mocker.post(requests_mock.ANY, status_code=501, text=page, headers={"Content-Type": "text/html"})
        result = node.run("reconcile")
    err = one_line(result)
    assert result.status == 1 and f"Keystone at {auth_url}" in err and len(err) < 600


def test_a_provider_without_its_generation_in_the_answer_is_one_line(node, faults):
    """Guards (found by review): a tree listing without 'generation' was a KeyError traceback."""
    def drop_generation(body):
        for provider in body["resource_providers"]:
            provider.pop("generation")
        return body
    faults.inject(4, Reshaped(drop_generation), method="GET", path_end="/resource_providers")
    result = node.run("reconcile")
    assert result.status == 1
    assert "is not shaped as Placement's (no 'generation')" in one_line(result)


def test_remove_works_for_a_compute_node_renamed_past_the_name_room(node, admin):
    """Guards (found by review): remove refused, although deleting the provider renames nothing."""
    assert node.run("reconcile").status == 0
    root = admin.root_uuid(node.name)
    long_name = node.name + "x" * (190 - len(node.name))
    admin.rename(root, long_name)
    node.configure(DEFAULT={"host": long_name})
    del node.options["pmem"]["namespaces"]
    result = node.run("remove")
    assert result.status == 0, result.err
    assert admin.provider(admin.child_uuid(long_name)) is None


@pytest.mark.parametrize("registered, written", [
    ("{name}.example.org", "{name}.example.org."), ("Capital-{name}", "capital-{name}"),
], ids=["trailing dot", "capitalised"])
def test_more_spellings_of_the_host_are_found(node, admin, registered, written):
    registered = registered.format(name=node.name)
    admin.create_compute_node(registered)
    node.configure(DEFAULT={"host": written.format(name=node.name)})
    result = node.run("reconcile")
    assert result.status == 1 and f"did you mean {registered!r}?" in one_line(result)


def one_line_after_warnings(result):
    """The error line, after the warnings about misspelt options that may come first."""
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert all("WARNING" in line for line in lines[:-1]), result.err
    return lines[-1]


def test_a_log_file_that_cannot_be_opened_is_one_line(node):
    """Found by review: oslo.log's error opening [DEFAULT]log_file was a traceback, in check too."""
    node.configure(DEFAULT={"log_file": str(node.dir / "no-such-dir" / "agent.log")})
    said = ("[DEFAULT] logging options (log_file, log_dir, log_config_append, default_log_levels): [Errno 2] No "
            "such file or directory")
    result = node.run("show", "--offline")
    assert result.status == 2 and result.err.startswith(f"pmem-placement: error: {said}")
    check = node.run("check")  # every check's line, the configuration's first
    assert check.status == 2 and "Traceback" not in check.err
    assert check.out.startswith(f"Failure  configuration: {said}") and "systemd unit" in check.out


def test_an_auth_url_that_answers_401_to_its_discovery_is_one_line_not_a_hang(node):
    """Guards (found by review): an auth_url pointed at a service that answers 401 (Placement's
    own URL, say) hung every command for ever: keystoneauth retries the version discovery with a
    token from inside the lock of the token it is getting. The run is in a thread of its own, so
    that the bug shows as a failure (the deadline is a hang's, not a slow machine's: the run
    sends two requests to a mock)."""
    password_auth(node)
    with requests_mock.Mocker(real_http=True) as mocker:
        mocker.get(KEYSTONE, status_code=401, json={"error": {"code": 401, "title": "Unauthorized"}})
        started = node.start("reconcile")
        results = started.finish(timeout=120)
        assert results, "reconcile hung on an auth_url answering 401"
        [result] = results
        agent = node.agent()
        assert not agent.cycle()
    assert result.status == 2 and result.writes == []
    assert one_line(result) == (
        f"pmem-placement: error: Keystone at {KEYSTONE} ([placement]auth_url) cannot be authenticated with: it "
        "answered its version discovery with 401 Unauthorized: it is not Keystone's URL, or something before "
        "Keystone asks for credentials\n")
    assert agent.status.state == "error" and agent.status.last_error["kind"] == "credentials_refused"


@pytest.mark.parametrize("options, message", [
    ({"valid_interfaces": "interal"}, "[placement]: 'interal' is not a valid value for valid_interfaces"),
    ({"valid_interfaces": "internal,publik"}, "[placement]: 'publik' is not a valid value for valid_interfaces"),
    ({"endpoint": "127.0.0.1:8778"}, "[placement]endpoint = '127.0.0.1:8778' is not a URL: http:// or https://"),
    ({"endpoint_override": "placement:8778"}, "[placement]endpoint_override = 'placement:8778' is not a URL"),
    ({"timeout": "0"}, "[placement]timeout = 0 is not a time to wait: seconds, more than 0"),
    ({"timeout": "-5"}, "[placement]timeout = -5 is not a time to wait"),
    ({"endpoint": "http://[::1"}, "[placement]endpoint = 'http://[::1' is not a URL"),
    ({"endpoint": "http://127.0.0.1:99999"}, "[placement]endpoint = 'http://127.0.0.1:99999' is not a URL"),
    ({"endpoint": "http://"}, "[placement]endpoint = 'http://' is not a URL"),
    ({"min_version": "1.40", "max_version": "1.30"}, "[placement]min_version = '1.40' is above max_version = '1.30'"),
], ids=["valid_interfaces", "valid_interfaces-list", "endpoint-no-scheme", "override-no-scheme", "timeout-0",
        "timeout-negative", "ipv6-unbalanced", "port-out-of-range", "no-host", "versions-crossed"])
def test_what_keystoneauth_would_take_for_an_outage_is_a_configuration_error(node, options, message):
    """Guards (found by review): a misspelt valid_interfaces was a TypeError traceback in every
    command and the agent; an endpoint without http:// and a timeout of 0 read as Placement down."""
    node.configure(placement=options)
    for command in COMMANDS:
        result = node.run(*command)
        assert result.status == 2 and result.requests == [], command
        assert one_line(result).startswith(f"pmem-placement: error: {message}")
        if command != ("remove",):
            status, error = json_error(node, *command)
            assert status == 2 and error["message"].startswith(message)
    check = node.run("check")
    assert check.status == 2 and f"Failure  placement: {message}" in check.out
    assert "Traceback" not in check.err


def test_a_config_file_that_is_a_directory_is_one_line(node, tmp_path):
    """Guards (found by review): --config-file /etc/pmem-placement/ was an IsADirectoryError traceback."""
    node.write_config()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["--config-file", str(node.config_file), "--config-file", str(tmp_path), "reconcile"])
    assert status == 2
    assert err.getvalue() == (f"pmem-placement: error: cannot read the configuration file {tmp_path}: is a "
                              "directory (a directory of *.conf files is given with --config-dir)\n")


@pytest.mark.parametrize("written", ["", "[placement\nauth_type = admin_token\n"], ids=["missing", "not-ini"])
def test_check_prints_every_line_when_the_files_cannot_be_parsed(node, tmp_path, written):
    """Guards (found by review): a --config-file missing or not INI printed one error line and no checks."""
    config = tmp_path / "given.conf"
    if written:
        config.write_text(written)
    for fmt in ("text", "json"):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["--config-file", str(config), "check", "--format", fmt])
        assert status == 2 and "Traceback" not in err.getvalue()
        if fmt == "text":
            lines = out.getvalue().splitlines()
            assert [line.split(":")[0] for line in lines] == [
                "Failure  configuration", "Warning  discovery", "Warning  placement", "Warning  nova coexistence",
                "Warning  state directory", "Warning  agent", lines[-1].split(":")[0]]
            assert lines[-1].split(":")[0].endswith("systemd unit")
            assert str(config) in lines[0]
        else:
            report = json.loads(out.getvalue())
            assert report["code"] == 2 and len(report["checks"]) == 7
            assert [c["name"] for c in report["checks"]][-1] == "systemd unit"


def test_a_database_that_compares_names_without_case_gives_the_near_miss(node, faults, admin):
    """Guards (found by review): on MySQL, ?name=COMPUTE-1 finds 'compute-1'; the run then said
    that [pmem]root_provider_uuid, which is not set, names no provider."""
    record = admin.provider(admin.root_uuid(node.name))
    faults.inject(1, Reshaped(lambda body: {"resource_providers": [record]}), method="GET",
                  path_end="/resource_providers")
    node.configure(DEFAULT={"host": node.name.upper()})
    result = node.run("reconcile")
    assert result.status == 1 and result.writes == []
    assert f"no resource provider named {node.name.upper()!r} in Placement: did you mean {node.name!r}?" \
        in one_line(result)
    assert "root_provider_uuid" not in result.err


def test_a_short_host_name_is_answered_with_its_fqdn(node, admin, monkeypatch):
    """Guards (found by review): host = vm where nova registered vm.example.org had no hint."""
    fqdn = f"{node.name}.example.org"
    admin.create_compute_node(fqdn)
    short = f"{node.name}x"
    admin.rename(admin.root_uuid(fqdn), f"{short}.example.org")
    monkeypatch.setattr(socket, "getfqdn", lambda name="": f"{short}.example.org" if name == short else "localhost")
    node.configure(DEFAULT={"host": short})
    result = node.run("reconcile")
    assert result.status == 1 and f"did you mean '{short}.example.org'?" in one_line(result)


def test_auth_options_keystoneauth_refuses_to_send_are_a_configuration_error(node):
    """Guards (found by review): a project and a system scope at once read 'cannot reach Keystone',
    exit 1 (retry later), although nothing was sent."""
    password_auth(node, password="secret")
    node.configure(placement={"system_scope": "all"})
    with requests_mock.Mocker(real_http=True) as mocker:
        keystone(mocker)
        result = node.run("reconcile")
        tokens = [r for r in mocker.request_history if r.method == "POST"]
    assert result.status == 2 and tokens == []
    assert one_line(result).startswith("pmem-placement: error: [placement]: keystoneauth cannot authenticate with "
                                       "these auth options: Authentication cannot be scoped to multiple targets")


@pytest.mark.parametrize("options", [{"valid_interfaces": "internalURL"}])
def test_a_reload_or_start_with_options_the_client_refuses_is_refused(node, options):
    """Guards (found by review): the agent's start and reload checked the auth plugin only: a
    valid_interfaces keystoneauth refuses was accepted, then failed every cycle as type_error."""
    from pmem_placement.agent import config as agent_config

    node.configure(placement=options)
    result = node.run("reconcile")
    assert result.status == 2 and result.requests == []
    assert one_line(result).startswith("pmem-placement: error: [placement]: ")
    with pytest.raises(ConfigError) as raised:  # what the agent's start and reload check
        agent_config.check_placement(node.conf())
    assert str(raised.value).startswith("[placement]: ")


@pytest.mark.parametrize("version", ["banana", "9.x"])
def test_a_version_that_is_none_is_one_line(node, placement, version):
    """Found by review: [placement]min_version = banana was a traceback."""
    password_auth(node, password="secret")
    node.configure(placement={"min_version": version})
    with requests_mock.Mocker(real_http=True) as mocker:
        keystone(mocker, body=keystone_token_body(placement.url))
        result = node.run("reconcile")
    assert result.status == 2 and result.writes == []
    assert one_line(result) == (f"pmem-placement: error: [placement]min_version = {version!r} is not a version: "
                                "e.g. 1.0, or latest\n")


def _total_as_text(body):
    for inventory in body.get("inventories", {}).values():
        inventory["total"] = str(inventory["total"])
    return body


@pytest.mark.parametrize("command", [("reconcile",), ("show",)], ids=" ".join)
@pytest.mark.parametrize("change", [_total_as_text, lambda body: {**body, "resource_provider_generation": None}],
                         ids=["total-as-text", "generation-null"])
def test_an_answer_with_a_value_of_another_type_is_one_line_naming_the_request(node, faults, command, change):
    """Found by review: an inventory's total given as text was a traceback in reconcile and show."""
    assert node.run("reconcile").status == 0
    node.namespaces_file.write_text(helpers.nova_host(["ns_0", "ns_1"]))  # a change to make
    faults.inject(20, Reshaped(change), method="GET", path_end="/inventories")
    result = node.run(*command)
    assert result.status == 1 and "Traceback" not in result.err
    assert "is not shaped as Placement's" in result.err.splitlines()[-1]
    assert result.writes == []


def test_a_config_file_that_is_not_utf8_is_one_line_naming_it(node, tmp_path):
    """Found by review: a Latin-1 comment was a UnicodeDecodeError traceback, in check and the agent too."""
    node.write_config()
    latin = tmp_path / "latin.conf"
    latin.write_bytes(b"# caf\xe9\n[DEFAULT]\n")
    for command in (["reconcile"], ["check"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["--config-file", str(node.config_file), "--config-file", str(latin), *command])
        said = f"cannot read the configuration file {latin}: it is not UTF-8 text (byte 0xe9 at offset 5)"
        assert status == 2 and "Traceback" not in err.getvalue()
        assert said in (err.getvalue() if command == ["reconcile"] else out.getvalue())


def test_a_version_placement_does_not_serve_is_named_with_the_endpoint_not_found(node, placement):
    """Found by review: max_version = 1.0 read 'no Placement endpoint ... check valid_interfaces, region_name'."""
    password_auth(node, password="secret")
    node.configure(placement={"max_version": "0.5"})
    with requests_mock.Mocker(real_http=True) as mocker:
        keystone(mocker, body=keystone_token_body(placement.url))
        result = node.run("reconcile")
    assert result.status == 1 and "max_version = 0.5 (Placement may serve no such version)" in one_line(result)


def test_traits_of_the_wrong_type_are_one_line(node, faults):
    """Found by review: traits [1, 2] were a TypeError traceback in show."""
    assert node.run("reconcile").status == 0
    faults.inject(20, Reshaped(lambda body: {**body, "traits": [1, 2]}), method="GET", path_end="/traits")
    for command in (("show",), ("reconcile",)):
        result = node.run(*command)
        assert result.status == 1 and "Traceback" not in result.err, command
        assert "traits is [1, 2], not a list of names" in result.err.splitlines()[-1]
