"""nova's configuration files read with nova's option declaration and oslo.config's semantics."""

import pytest

from pmem_placement.audit import nova_conf
from pmem_placement.errors import ConfigError


def test_files_in_order_then_directories(tmp_path):
    (tmp_path / "nova.conf").write_text("[libvirt]\npmem_namespaces = 4GB:ns_0 , SMALL:ns_1|ns_2,\n")
    (tmp_path / "compute.conf").write_text("[DEFAULT]\ndebug = true\n")
    assert nova_conf.read([str(tmp_path / "nova.conf"), str(tmp_path / "compute.conf")]) == [
        "4GB:ns_0", "SMALL:ns_1|ns_2"]
    d = tmp_path / "nova.conf.d"
    d.mkdir()
    (d / "10-pmem.conf").write_text("[libvirt]\npmem_namespaces = A:x\n")
    (d / "20-pmem.conf").write_text("[libvirt]\npmem_namespaces = B:y\n")
    assert nova_conf.read([str(tmp_path / "nova.conf")], [str(d)]) == ["B:y"]


def test_unset_is_empty(tmp_path):
    (tmp_path / "nova.conf").write_text("[DEFAULT]\nhost = c1\n")
    assert nova_conf.read([str(tmp_path / "nova.conf")]) == []


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"),
    ("garbage\n", "Failed to parse"),
])
def test_unreadable_configuration_is_a_config_error(tmp_path, content, message):
    path = tmp_path / "nova.conf"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        nova_conf.read([str(path)])


def test_missing_directory(tmp_path):
    with pytest.raises(ConfigError, match="no directory"):
        nova_conf.read([], [str(tmp_path / "nope")])
