"""[pmem]discovery picks the backend, with the options each one reads; the file backend's errors.

Guards against: a backend called with another backend's options (a sysfs discovery reading the
real /sys instead of [pmem]sysfs_root, the ndctl discovery ignoring [pmem]ndctl_path), and a
namespaces file that cannot be read or is empty being taken for a host without namespaces (which
would withdraw every one of them) instead of a discovery error that writes nothing.
"""

import pytest
from oslo_config import cfg

from pmem_placement import conf as conf_mod
from pmem_placement import discover
from pmem_placement.discover import file
from pmem_placement.errors import ConfigError
from pmem_placement.errors import DiscoveryError
from tests import helpers

NAMES = {"ns_small", "6GB", "fsdax_ns", None, "name with spaces", "sect", "rawns", "disabled_ns", "fsdax_mem"}


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    conf_mod.register_opts(c)
    c([], default_config_files=[], default_config_dirs=[])
    return c


def _names(namespaces):
    return {ns.name for ns in namespaces}


def test_file_discovery_reads_the_file_it_is_given(conf, tmp_path):
    listing = tmp_path / "ndctl.json"
    listing.write_text(helpers.sample("v81-list-X.json"))
    conf.set_override("discovery", "file", group="pmem")
    conf.set_override("namespaces_file", str(listing), group="pmem")
    found = discover.discover(conf)
    assert [(ns.dev, ns.name) for ns in found] == [
        ("namespace1.0", None), ("namespace0.4", "name with spaces"), ("namespace0.1", "6GB"),
        ("namespace0.3", None), ("namespace0.0", "ns_small")]


def test_sysfs_discovery_reads_under_sysfs_root(conf, tmp_path):
    root = helpers.materialize_sysfs(helpers.NDCTL / "sysfs-dump-create.txt", tmp_path)
    conf.set_override("discovery", "sysfs", group="pmem")
    conf.set_override("sysfs_root", str(root), group="pmem")
    assert _names(discover.discover(conf)) == NAMES


def test_ndctl_discovery_runs_ndctl_path_within_its_timeout(conf, tmp_path):
    args = tmp_path / "args"
    ndctl = tmp_path / "my-ndctl"
    ndctl.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {args}\ncat {helpers.NDCTL / "v81-list-X.json"}\n')
    ndctl.chmod(0o755)
    conf.set_override("discovery", "ndctl", group="pmem")
    conf.set_override("ndctl_path", str(ndctl), group="pmem")
    assert len(discover.discover(conf)) == 5
    assert args.read_text().startswith("list\n--buses\n")
    sleeper = tmp_path / "slow-ndctl"
    sleeper.write_text("#!/bin/sh\nexec sleep 30\n")
    sleeper.chmod(0o755)
    conf.set_override("ndctl_path", str(sleeper), group="pmem")
    conf.set_override("ndctl_timeout", 1, group="pmem")
    with pytest.raises(DiscoveryError, match=r"within 1 s \(\[pmem\]ndctl_timeout\)"):
        discover.discover(conf)


def test_file_discovery_without_a_file_is_a_configuration_error():
    with pytest.raises(ConfigError, match=r"^\[pmem\]namespaces_file must be set when \[pmem\]discovery = file$"):
        file.discover(None)
    with pytest.raises(ConfigError):
        file.discover("")


def test_an_unreadable_file_is_a_discovery_error_naming_it(tmp_path):
    missing = tmp_path / "gone.json"
    with pytest.raises(DiscoveryError,
                       match=rf"^\[pmem\]namespaces_file: cannot read {missing}: No such file or directory$"):
        file.discover(str(missing))
    with pytest.raises(DiscoveryError, match=r"cannot read .*: Is a directory$"):
        file.discover(str(tmp_path))


def test_an_empty_file_is_no_bus_not_no_namespaces(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    with pytest.raises(DiscoveryError, match=rf"^{empty}: no nd bus on this host"):
        file.discover(str(empty))


def test_bytes_that_are_not_utf8_do_not_stop_the_read(tmp_path):
    listing = tmp_path / "ndctl.json"
    listing.write_bytes(helpers.sample("v81-list-X.json").replace('"ns_small"', '"ns_\xff"').encode("latin-1"))
    found = {ns.dev: ns.name for ns in file.discover(str(listing))}
    assert found["namespace0.0"] == "ns_\ufffd"
