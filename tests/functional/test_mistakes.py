"""Every mistake in [placement] and every odd answer is one line naming what to fix: never a
traceback, the documented exit status, JSON printed, and the same kind in the agent's status.
Against the real Placement; Keystone is played by requests-mock where one must answer, and is an
auth_url nothing listens on where none must."""

import json
import socket

import pytest
import requests_mock

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
    assert result.status == 1
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
