"""Global options before or after the subcommand, as in the OpenStack clients."""

import pytest
from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import conf as conf_mod
from pmem_placement.cmd import cli


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    conf_mod.register_opts(c)
    c.register_cli_opts([cli._cloud_opt(), cli._command_opt()])
    logging.register_options(c)
    return c


@pytest.mark.parametrize("argv, expected", [
    (["reconcile", "--config-file", "F"], ["--config-file", "F", "reconcile"]),
    (["--config-file", "F", "reconcile", "--dry-run"], ["--config-file", "F", "reconcile", "--dry-run"]),
    (["show", "--os-cloud", "lab", "--format", "json", "-d"], ["--os-cloud", "lab", "-d", "show", "--format", "json"]),
    (["reconcile", "--config-dir=D", "--lock-timeout", "5"], ["--config-dir=D", "reconcile", "--lock-timeout", "5"]),
    (["--config-file", "show", "show"], ["--config-file", "show", "show"]),  # a file named like a command
    (["--help"], ["--help"]),
])
def test_hoist_global_options(conf, argv, expected):
    assert cli.hoist_global_options(argv, conf) == expected
