"""Secrets never reach logs, TLS is verified unless told otherwise, and exposures are warned about."""

import json
import logging
import signal
import subprocess
import sys
import time

import requests_mock

from tests.functional.keystone import keystone
from tests.functional.keystone import keystone_token_body
from tests.functional.keystone import password_auth

SECRET_TOKEN = "admin:pr0ject-S3CRET-t0ken"  # noauth2 reads 'user:project': user admin
SECRET_PASSWORD = "S3CRET-pa55word-xyz"


def run_cli(node, *args):
    """In its own process: only pmem-placement's own logs (not the embedded server's) are seen."""
    node.write_config()
    return subprocess.run(
        [sys.executable, "-c", "import sys; from pmem_placement.cmd.cli import main; sys.exit(main())",
         "--config-file", str(node.config_file), *args],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_token_never_logged_even_with_debug(node):
    node.configure(placement={"token": SECRET_TOKEN})
    result = run_cli(node, "--debug", "reconcile")
    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr and "X-Auth-Token: {SHA256}" in result.stderr  # logged, masked
    assert "S3CRET" not in result.stderr + result.stdout


def test_password_plugin_never_logs_the_password_or_token(node, placement):
    password_auth(node, SECRET_PASSWORD)
    with requests_mock.Mocker(real_http=True) as mocker:
        keystone(mocker, body=keystone_token_body(placement.url), token=SECRET_TOKEN)
        # In-process (requests-mock plays Keystone): silence the embedded Placement's own request
        # log, which prints the project id it was given; only pmem-placement's logs are checked.
        placement_log = logging.getLogger("placement")
        level = placement_log.level
        placement_log.setLevel(logging.CRITICAL)
        try:
            result = node.run("--debug", "reconcile")
        finally:
            placement_log.setLevel(level)
        sent = [r for r in mocker.request_history if r.method == "POST"]
    assert result.status == 0, result.err
    assert "POST http://keystone.invalid/v3/auth/tokens" in result.err  # requests are logged...
    assert SECRET_PASSWORD in sent[0].text  # ...the password really went to Keystone...
    assert "S3CRET" not in result.err + result.out  # ...and to no log


def test_agent_never_logs_secrets_even_with_debug(node):
    node.configure(DEFAULT={"debug": "true"}, placement={"token": SECRET_TOKEN},
                   agent={"interval": 1, "initial_jitter": 0})
    node.write_config()
    log = node.dir / "agent.log"  # a file, not a pipe: debug output would fill a pipe's buffer
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pmem_placement.cmd.agent import main; sys.exit(main())",
         "--config-file", str(node.config_file)],
        stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    status = node.dir / "state" / "status.json"
    deadline = time.monotonic() + 60  # an agent's start, as tests/functional/agents.py allows under load
    while time.monotonic() < deadline:
        if status.exists() and json.loads(status.read_text() or "{}").get("cycles", 0) >= 2:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the agent did not run two cycles")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    out = log.read_text()
    assert "X-Auth-Token: {SHA256}" in out  # requests are logged, tokens hashed
    assert "S3CRET" not in out


def test_tls_verification_is_on_by_default_and_insecure_warns(node, tmp_path):
    from pmem_placement import wiring

    assert wiring.placement_adapter(node.conf()).session.verify is True
    node.configure(placement={"insecure": "true"})
    result = node.run("reconcile")
    assert result.status == 0
    assert "[placement]insecure = true: Placement's TLS certificate is NOT verified" in result.err


def test_world_readable_secrets_are_warned_about(node):
    node.write_config()
    node.config_file.chmod(0o644)
    result = node.run_as_written("reconcile")
    assert result.status == 0
    assert f"{node.config_file} holds [placement] credentials and every user can read it" in result.err
    node.config_file.chmod(0o600)
    assert "every user can read it" not in node.run("reconcile").err
