"""The README is executable truth: every ``ini`` block parses with oslo.config and means what it says."""

import pathlib
import re

import pytest
from oslo_config import cfg

from pmem_placement import conf as conf_mod
from pmem_placement import mapping
from pmem_placement.conf import validate

README = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
BLOCKS = re.findall(r"^```ini\n(.*?)^```", README, re.S | re.M)


def parse(tmp_path, *texts):
    files = []
    for i, text in enumerate(texts):
        path = tmp_path / f"{i}.conf"
        path.write_text(text)
        files += ["--config-file", str(path)]
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf(files, default_config_files=[])
    return conf


def test_the_readme_has_the_configuration_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS)
def test_every_ini_block_parses_and_every_option_is_known(tmp_path, block):
    conf = parse(tmp_path, block)
    assert validate.unknown_options(conf) == []
    for line in block.splitlines():
        if "=" in line and not line.startswith("#"):
            assert "#" not in line, f"an end-of-line comment becomes part of the value: {line!r}"


def test_the_blocks_mean_what_the_prose_says(tmp_path):
    main, secrets = BLOCKS[0], BLOCKS[1]
    conf = parse(tmp_path, main, secrets)
    assert conf.host == "compute-1"
    labels = mapping.parse(conf.pmem.namespaces)
    assert [(label.resource_class, label.namespace_names) for label in labels] == [
        ("CUSTOM_PMEM_NAMESPACE_4GB", ("ns_0",)), ("CUSTOM_PMEM_NAMESPACE_SMALL", ("ns_1", "ns_2"))]
    assert conf.pmem.discovery == "ndctl"
    # The commented-out lines show the defaults.
    assert (conf.pmem.ndctl_path, conf.pmem.ndctl_timeout, conf.pmem.conflict_retries) == ("ndctl", 30, 4)
    assert (conf.agent.interval, conf.agent.initial_jitter, conf.agent.max_backoff) == (60, 30, 600)
    assert conf.agent.state_dir == "/var/lib/pmem-placement"
    assert conf.placement.auth_type == "password"
    assert conf.placement.valid_interfaces == ["internal"]
    # The main file alone has no [placement]: the split the systemd unit uses.
    assert "[placement]" not in main and "[placement]" in secrets
