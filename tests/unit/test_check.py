"""The pure checks of `pmem-placement check`, as tables."""

import pytest
from oslo_upgradecheck.upgradecheck import Code

from pmem_placement import check


@pytest.mark.parametrize("unit, binary", [
    ("[Service]\nExecStart=/usr/bin/pmem-placement-agent --config-file /etc/x.conf\n", "/usr/bin/pmem-placement-agent"),
    ("[Service]\nExecStart=-/opt/venv/bin/pmem-placement-agent\n", "/opt/venv/bin/pmem-placement-agent"),
    ("[Service]\nExecStart=\nExecStart=@/usr/local/bin/agent agent\n", "/usr/local/bin/agent"),
    ("[Service]\nType=simple\n", None),
])
def test_exec_start(unit, binary):
    assert check.exec_start(unit) == binary


def test_systemd_unit_warns_when_the_binary_is_missing():
    units = {"/etc/systemd/system/pmem-placement-agent.service": "[Service]\nExecStart=/usr/bin/pmem-placement-agent\n"}
    missing = check.systemd_unit(units, exists=lambda path: False)
    assert missing.code == Code.WARNING
    assert "ExecStart runs /usr/bin/pmem-placement-agent, which does not exist" in missing.details
    assert check.systemd_unit(units, exists=lambda path: True).code == Code.SUCCESS
    assert check.systemd_unit({}).code == Code.SUCCESS


@pytest.mark.parametrize("status, code, words", [
    (None, Code.WARNING, "no agent status at /s"),
    ({"stale": "its process 7 is gone"}, Code.WARNING, "stale: its process 7 is gone"),
    ({"stale": None, "same_config": False}, Code.WARNING, "systemctl reload pmem-placement-agent"),
    ({"stale": None, "same_config": True, "state": "error", "last_error": {"message": "boom"}}, Code.WARNING,
     "the agent is error: boom"),
    ({"stale": None, "same_config": True, "state": "in_sync", "last_attempt": "t"}, Code.SUCCESS, "in sync"),
    ({"stale": None, "same_config": None, "state": "in_sync", "last_attempt": "t"}, Code.SUCCESS, "in sync"),
])
def test_agent(status, code, words):
    result = check.agent(status, "/s")
    assert result.code == code and words in result.details


@pytest.mark.parametrize("root_classes, ours, code", [
    ([], {"CUSTOM_PMEM_NAMESPACE_A"}, Code.SUCCESS),
    (["CUSTOM_PMEM_NAMESPACE_B"], {"CUSTOM_PMEM_NAMESPACE_A"}, Code.WARNING),
    (["CUSTOM_PMEM_NAMESPACE_A"], {"CUSTOM_PMEM_NAMESPACE_A"}, Code.FAILURE),
])
def test_nova_coexistence(root_classes, ours, code):
    assert check.nova_coexistence("cn", root_classes, ours).code == code
