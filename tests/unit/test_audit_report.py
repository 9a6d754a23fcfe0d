"""The agent's status and metrics files in audit mode, and unchanged in report mode."""

import json

from pmem_placement.agent import report
from pmem_placement.audit.findings import KINDS


def test_report_mode_has_no_findings_key_nor_metric():
    status = report.Status(host="compute-1", pid=1)
    assert "findings" not in json.loads(report.status_json(status))
    assert "pmem_placement_audit_findings" not in report.metrics_text(status)


def test_audit_mode_counts_every_kind():
    finding = {"kind": "namespace_missing", "resource_class": "CUSTOM_PMEM_NAMESPACE_SMALL",
               "namespace": "ns_2", "message": "..."}
    status = report.Status(host="compute-1", pid=1, findings=[finding, dict(finding, namespace="ns_3")])
    assert json.loads(report.status_json(status))["findings"][0] == finding
    lines = [line for line in report.metrics_text(status).splitlines() if line.startswith("pmem_placement_audit")]
    assert lines == [f'pmem_placement_audit_findings{{kind="{k}"}} {2 if k == "namespace_missing" else 0}'
                     for k in KINDS]
