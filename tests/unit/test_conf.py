"""Configuration: the generated sample stays true, and nova's [placement] section works here."""

import pathlib

import pytest
from keystoneauth1.identity import generic
from oslo_config import cfg
from oslo_config import generator

from pmem_placement import conf as conf_mod
from pmem_placement import wiring

ROOT = pathlib.Path(__file__).parents[2]


def test_sample_config_is_current(tmp_path):
    out = tmp_path / "sample"
    generator.main(["--config-file", str(ROOT / "etc/oslo-config-generator/pmem-placement.conf"),
                    "--output-file", str(out)])
    committed = (ROOT / "etc/pmem-placement.conf.sample").read_text()
    assert out.read_text() == committed, (
        "etc/pmem-placement.conf.sample is stale: regenerate it with "
        "'oslo-config-generator --config-file etc/oslo-config-generator/pmem-placement.conf'")


def test_every_option_of_ours_has_help_an_operator_can_act_on():
    from pmem_placement.conf import agent
    from pmem_placement.conf import base
    from pmem_placement.conf import pmem

    for opt in base.list_opts() + pmem.list_opts() + agent.list_opts():
        assert opt.help and len(opt.help) > 40, opt.name


NOVA_PLACEMENT_SECTION = """
[placement]
region_name = RegionOne
project_domain_name = Default
project_name = service
auth_type = password
user_domain_name = Default
auth_url = https://keystone.example:5000/v3
username = placement
password = s3cret
valid_interfaces = internal
"""


def test_nova_placement_section_can_be_pasted(tmp_path):
    path = tmp_path / "pmem-placement.conf"
    path.write_text(NOVA_PLACEMENT_SECTION)
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf(["--config-file", str(path)])
    adapter = wiring.placement_adapter(conf)
    assert isinstance(adapter.auth, generic.Password)
    assert adapter.auth.auth_url == "https://keystone.example:5000/v3"
    assert adapter.service_type == "placement"
    assert adapter.interface == ["internal"]
    assert adapter.region_name == "RegionOne"
    assert adapter.session.verify is True  # TLS verification on by default


def _unknown(tmp_path, text):
    from pmem_placement.conf import validate

    path = tmp_path / "x.conf"
    path.write_text(text)
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf(["--config-file", str(path)], default_config_files=[])
    return [m.split(": ", 1)[1] for m in validate.unknown_options(conf)]


@pytest.mark.parametrize("text, messages", [
    (NOVA_PLACEMENT_SECTION, []),
    ("[placement]\nauth_type = v3applicationcredential\nauth_url = https://k/v3\napplication_credential_id = i\n"
     "application_credential_secret = s\nconnect_retries = 3\nstatus_code_retries = 2\ncafile = /x\n", []),
    ("[placement]\nauth_type = admin_token\nendpoint = http://p\ntoken = t\n", []),
    ("[placement]\nauth_type = password\npasword = x\n",
     ["[placement]pasword is not an option and is ignored: did you mean 'password'?"]),
    ("[DEFAULT]\ndebug = true\nlog_file = /x\ngraceful_shutdown_timeout = 10\nhost = h\n", []),
    ("[DEFAULT]\nhots = h\n", ["[DEFAULT]hots is not an option and is ignored: did you mean 'host'?"]),
    ("[DEFAULT]\ntransport_url = rabbit://\ncompute_driver = libvirt.LibvirtDriver\n", []),  # nova.conf's
    ("[pmem]\nnamespace = A:ns_0\n", ["[pmem]namespace is not an option and is ignored: did you mean 'namespaces'?"]),
    ("[pmem]\nnamespaces = A:ns_0\nmystery = 1\n", ["[pmem]mystery is not an option and is ignored"]),
    ("[agnet]\ninterval = 5\n", ["section [agnet] is not one of ours and is ignored: did you mean [agent]?"]),
    ("[oslo_concurrency]\nlock_path = /x\n", []),
])
def test_unknown_options_are_named_with_the_nearest_valid_name(tmp_path, text, messages):
    assert _unknown(tmp_path, text) == messages
