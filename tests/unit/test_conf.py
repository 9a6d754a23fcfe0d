"""Configuration: the generated sample stays true, and nova's [placement] section works here."""

import pathlib

import pytest
from keystoneauth1.identity import generic
from oslo_config import cfg

from pmem_placement import conf as conf_mod
from pmem_placement import wiring
from tests import helpers

ROOT = pathlib.Path(__file__).parents[2]


def test_sample_config_is_current_and_reads_our_sections_first_and_logging_last():
    tool = helpers.tool("sample_config")
    committed = (ROOT / "etc/pmem-placement.conf.sample").read_text()
    assert tool.sample() == committed, (
        "etc/pmem-placement.conf.sample is stale: regenerate it with '.venv/bin/python tools/sample_config.py'")
    headers = [line for line in committed.splitlines() if line.startswith("[")]
    assert headers == ["[DEFAULT]", "[pmem]", "[agent]", "[placement]", "[DEFAULT]"]
    # what oslo-config-generator itself writes, section by section, nothing lost or added
    plain = tool.sections(tool.generated("pmem_placement"))
    for name, body in plain.items():
        assert body.strip() in committed
    assert tool.sections(tool.generated("oslo.log"))["DEFAULT"].strip() in committed


def test_the_sample_with_logging_last_is_read_as_one_configuration(tmp_path):
    sample = tmp_path / "sample.conf"
    sample.write_text((ROOT / "etc/pmem-placement.conf.sample").read_text()
                      + "\n[DEFAULT]\nhost = cn1\n[pmem]\nnamespaces = 4GB:ns_0\n")
    from oslo_log import log

    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    log.register_options(conf)
    conf(["--config-file", str(sample)])
    assert (conf.host, conf.pmem.namespaces, conf.debug, conf.agent.interval) == ("cn1", "4GB:ns_0", False, 300)


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
