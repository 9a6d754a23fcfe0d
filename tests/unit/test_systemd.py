"""The systemd unit: reloadable, restartable, and hardened to an exposure of 2.0 or less."""

import configparser
import pathlib
import re
import shutil
import subprocess

import pytest

UNIT = pathlib.Path(__file__).parents[2] / "systemd" / "pmem-placement-agent.service"


def unit():
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str
    parser.read(UNIT)
    return parser


def test_unit_runs_the_agent_reloads_with_sighup_and_restarts_on_failure():
    service = unit()["Service"]
    assert service["ExecStart"].startswith("/usr/bin/pmem-placement-agent --config-file /etc/pmem-placement/")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"
    assert service["LoadCredential"] == "secrets.conf:/etc/pmem-placement/secrets.conf"
    assert "${CREDENTIALS_DIRECTORY}/secrets.conf" in service["ExecStart"]
    assert service["StateDirectory"] == "pmem-placement"  # = the default [agent]state_dir


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_security_exposure_is_at_most_2():
    proc = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= 2.0, proc.stdout


def test_unit_waits_for_ready_from_the_worker_and_has_a_watchdog():
    service = unit()["Service"]
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "all"  # READY and WATCHDOG come from the worker, not the main pid
    assert int(service["WatchdogSec"]) >= 2 * 30 * 2  # above a request's timeout with its retries


def test_unit_lets_a_graceful_stop_finish():
    from oslo_service import _options  # [DEFAULT]graceful_shutdown_timeout, registered by the launcher

    graceful = next(o.default for o in _options.service_opts if o.dest == "graceful_shutdown_timeout")
    assert int(unit()["Service"]["TimeoutStopSec"]) > graceful
