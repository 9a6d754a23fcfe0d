import json

from pmem_placement import status_file
from pmem_placement.agent import report


def status():
    return report.Status(
        host="compute-1", pid=42, state="in_sync", cycles=7, last_attempt=1795627976.6008534,
        last_success=1795627976.6125429, last_duration=0.0084, provider={"name": "compute-1:pmem", "uuid": "u"},
        classes={"CUSTOM_PMEM_NAMESPACE_4GB": {"total": 2, "reserved": 0}},
        requests={"GET": 9, "PUT": 4}, errors={"unavailable": 3},
    )


def test_metrics_are_prometheus_text_with_full_precision():
    text = report.metrics_text(status())
    lines = text.splitlines()
    assert 'pmem_placement_state{state="in_sync"} 1' in lines
    assert 'pmem_placement_state{state="degraded"} 0' in lines
    assert "pmem_placement_last_success_timestamp_seconds 1795627976.6125429" in lines
    assert "pmem_placement_reconciles_total 7" in lines
    assert 'pmem_placement_requests_total{method="GET"} 9' in lines
    assert 'pmem_placement_errors_total{kind="unavailable"} 3' in lines
    assert 'pmem_placement_inventory_total{resource_class="CUSTOM_PMEM_NAMESPACE_4GB"} 2' in lines
    assert "# TYPE pmem_placement_requests_total counter" in lines
    assert text.endswith("\n")
    for line in lines:  # every sample line is `name{labels} number`
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_status_json_keys():
    data = json.loads(report.status_json(status()))
    assert list(data) == ["state", "host", "pid", "last_attempt", "last_success", "last_duration_seconds",
                          "last_error", "consecutive_failures", "cycles", "provider", "classes",
                          "config_fingerprint", "next_attempt", "mode", "failsafe", "namespaces", "events",
                          "version", "interval_seconds", "used", "used_at", "reloads", "last_reload"]
    assert data["last_success"] == "2026-11-25T17:32:56+00:00"


def test_files_are_written_atomically(tmp_path):
    report.write(status(), str(tmp_path / "status.json"), str(tmp_path / "m.prom"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.prom", "status.json"]
    assert status_file.read(str(tmp_path / "status.json"))[0]["cycles"] == 7
    assert status_file.read(str(tmp_path / "missing.json")) == (None, None)


def test_each_metric_is_described_once():
    """Prometheus' text parser (node_exporter's textfile collector) refuses a second HELP line for
    a metric: one duplicate drops every metric of the file."""
    status = report.Status(host="compute-1", pid=1, classes={"CUSTOM_PMEM_NAMESPACE_A": {"total": 1, "reserved": 1}},
                           failsafe={"withheld": {"CUSTOM_PMEM_NAMESPACE_A": 1}, "consumers": ["c"], "why": "lost"},
                           findings=[])
    helps = [line.split()[2] for line in report.metrics_text(status).splitlines() if line.startswith("# HELP")]
    assert len(helps) == len(set(helps)), helps
