"""Failures an operator must fix are ``error`` and one line; failures that pass by themselves are
``degraded``. Files the run writes for itself (state, status, metrics) never fail a run whose
Placement work succeeded."""

import http.server
import json
import threading

import pytest
import requests_mock

from tests.functional.conftest import one_line
from tests.functional.keystone import keystone
from tests.functional.keystone import keystone_token_body
from tests.functional.keystone import password_auth


def test_credentials_keystone_refuses_are_an_error_not_degraded(node, placement):
    password_auth(node)
    with requests_mock.Mocker(real_http=True) as mocker:
        keystone(mocker, token_status=401)
        result = node.run("reconcile")
        agent = node.agent()
        assert not agent.cycle()
    err = one_line(result)
    assert result.status == 2
    assert "Keystone at http://keystone.invalid/v3 refused the [placement] credentials with 401" in err
    assert agent.status.state == "error" and agent.status.last_error["kind"] == "credentials_refused"


def test_no_placement_in_the_catalog_is_an_error(node, placement):
    password_auth(node)
    body = keystone_token_body(placement.url)
    body["token"]["catalog"] = []
    with requests_mock.Mocker(real_http=True) as mocker:
        keystone(mocker, body=body)
        result = node.run("reconcile")
        agent = node.agent()
        assert not agent.cycle()
    assert result.status == 1
    assert "no Placement endpoint" in one_line(result)
    assert agent.status.state == "error" and agent.status.last_error["kind"] == "no_endpoint"


def assert_the_ca_file_is_refused(node, placement, cafile):
    """With ``cafile`` for an https endpoint, reconcile exits 2 with one line naming the file, and
    an agent's cycle fails with ca_file_unreadable."""
    node.configure(placement={"cafile": str(cafile), "endpoint": placement.url.replace("http://", "https://")})
    result = node.run("reconcile")
    assert result.status == 2
    assert "cannot use the TLS files" in one_line(result) and cafile.name in result.err
    agent = node.agent()
    assert not agent.cycle() and agent.status.state == "error"
    assert agent.status.last_error["kind"] == "ca_file_unreadable"


def test_a_ca_file_that_does_not_exist_is_one_line_exit_2(node, tmp_path, placement):
    assert_the_ca_file_is_refused(node, placement, tmp_path / "missing-ca.pem")


def test_tls_verification_failure_is_an_error(node, tmp_path):
    import requests

    with requests_mock.Mocker(real_http=True) as mocker:
        mocker.get(requests_mock.ANY, exc=requests.exceptions.SSLError("certificate verify failed"))
        result = node.run("reconcile")
        agent = node.agent()
        assert not agent.cycle()
    assert result.status == 1
    assert "TLS with Placement" in one_line(result) and "certificate verify failed" in result.err
    assert agent.status.state == "error" and agent.status.last_error["kind"] == "tls_verification_failed"


class _WrongServer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"<html><body>It works!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def wrong_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WrongServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_endpoint_that_is_not_placement_is_one_line_naming_url_and_content_type(node, wrong_server):
    node.configure(placement={"endpoint": wrong_server})
    result = node.run("reconcile")
    assert result.status == 1
    err = one_line(result)
    assert f"GET {wrong_server}/resource_providers?name={node.name} answered 200 with text/html" in err
    agent = node.agent()
    assert not agent.cycle() and agent.status.state == "error" and agent.status.last_error["kind"] == "not_json"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_state_file_that_cannot_be_written_is_a_warning_not_a_failure(node, admin, fmt):
    state = node.dir / "state"
    state.mkdir()
    (state / "state.json").mkdir()  # can be neither read nor replaced
    result = node.run("reconcile", "--format", fmt)
    assert result.status == 0, result.err
    assert "Traceback" not in result.err and result.err.count("\n") == 1  # read or written: one warning
    assert f"[agent]state_dir: {state / 'state.json'} is not a regular file; remove it" in result.err
    if fmt == "json":
        assert json.loads(result.out)["requests"]
    assert admin.totals(admin.child_uuid(node.name))
    agent = node.agent()
    assert agent.cycle() is True  # Placement is in sync...
    assert agent.status.state == "error"  # ...but the operator must fix the file
    assert agent.status.last_error["kind"] == "state_file_not_writable"


def test_a_ca_file_that_is_not_a_certificate_is_one_line_exit_2_like_a_missing_one(node, tmp_path, placement):
    garbage = tmp_path / "garbage-ca.pem"
    garbage.write_text("this is not a certificate\n")
    assert_the_ca_file_is_refused(node, placement, garbage)
