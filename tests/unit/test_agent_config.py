"""A reload with an invalid value changes nothing; a valid one applies."""

import logging
import subprocess
import sys

from pmem_placement import conf as conf_mod
from pmem_placement.cmd import agent as agent_cmd
from pmem_placement.agent.config import AgentConfigOpts


def test_an_invalid_reload_keeps_every_value_of_the_last_good_one(tmp_path, caplog):
    path = tmp_path / "a.conf"
    path.write_text("[DEFAULT]\nhost = cn1\n[pmem]\nnamespaces = 4GB:ns_0\n[agent]\ninterval = 30\n")
    conf = AgentConfigOpts(agent_cmd._check)
    conf_mod.register_opts(conf)
    conf(["--config-file", str(path)])
    assert conf.agent.interval == 30
    path.write_text("[DEFAULT]\nhost = cn1\n[pmem]\nnamespaces = 4GB:ns_1\n[agent]\ninterval = 0\n")
    caplog.set_level(logging.ERROR)
    assert conf.reload_config_files() is False
    assert (conf.agent.interval, conf.pmem.namespaces) == (30, "4GB:ns_0")
    assert [r.getMessage() for r in caplog.records] == [
        f"reload refused, keeping the last good configuration: [agent]interval in {path}: "
        "Should be greater than or equal to 1"]
    path.write_text("[DEFAULT]\nhost = cn1\n[pmem]\nnamespaces = 4GB:ns_1\n[agent]\ninterval = 5\n")
    assert conf.reload_config_files() is True
    assert (conf.agent.interval, conf.pmem.namespaces) == (5, "4GB:ns_1")


def test_a_bad_value_at_start_up_is_one_line_naming_option_and_file(tmp_path):
    path = tmp_path / "a.conf"
    path.write_text("[DEFAULT]\nhost = cn1\n[agent]\nmax_backoff = soon\nstate_dir =\n")
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from pmem_placement.cmd.agent import main; sys.exit(main())",
         "--config-file", str(path)], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    err = proc.stderr
    assert err.startswith(f"pmem-placement-agent: error: [agent]max_backoff in {path}: ") and err.count("\n") == 1


def test_version_is_printed_and_nothing_started():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from pmem_placement.cmd.agent import main; sys.exit(main())",
         "--version"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    from importlib import metadata

    assert proc.returncode == 0 and proc.stdout == metadata.version("pmem-placement") + "\n"
