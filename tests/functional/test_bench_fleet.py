"""The production fleet bench (bench/fleet.py) measures what it says, against the real Placement.

Its figures are only as good as its model: a steady cycle is one request, the agents' own
verification comes once per verify_interval of compressed time, nova's pattern sends what nova sends.
Times are not asserted here.
"""

import collections
import pathlib
import random
import sys
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))

import figures  # noqa: E402  (bench/figures.py)
import fleet  # noqa: E402  (bench/fleet.py)
import run  # noqa: E402  (bench/run.py)


@pytest.fixture
def nodes(placement, tmp_path):
    admin = run.admin_client(placement.url)
    sample = run.ndctl_json(["ns_0", "ns_1", "ns_2"])
    return fleet.make_nodes(tmp_path, placement.url, admin, 3, sample, prefix=f"fleet-{uuid.uuid4().hex[:8]}")


def test_fleet_steady_cycles_cost_one_request_and_each_node_verifies_once_in_full(nodes):
    driver = fleet.Driver(nodes, threads=3, scale=3000, rng=random.Random(7))  # 60 s -> 20 ms

    first, _ = driver.run("agent", cycles=1, jitter=False, timeout=120)
    assert [r.kind for r in first] == ["first"] * 3
    assert all(r.ok for r in first)
    assert all(r.requests > 3 for r in first)

    steady, _ = driver.run("agent", cycles=13, jitter=True, timeout=120)
    assert all(r.ok for r in steady)
    kinds = collections.Counter(r.kind for r in steady)
    # The agents' own verification on their schedule's time: 1800 s of 300 s cycles, so at the 6th
    # and the 12th cycle after the first sync, twice per node in 13, however slow the machine.
    # Guards (found by review): a phase that began less than an interval after the last gave one
    # verification per 12 cycles, and 1.25 requests per interval instead of 1.5.
    assert kinds == {"steady": 33, "verify": 6}
    assert {r.requests for r in steady if r.kind == "steady"} == {1}
    assert all(r.requests >= 4 for r in steady if r.kind == "verify")  # tree, root and child read again


def test_nova_pattern_reads_allocations_every_periodic_and_the_tree_every_fifth_pmem_child_included(nodes):
    driver = fleet.Driver(nodes, threads=3, scale=3000, rng=random.Random(7))
    alone, _ = driver.run("nova", cycles=5, jitter=True, timeout=120)
    assert all(r.ok for r in alone)
    # root only: 2 allocation reads; a refresh adds the tree, inventories, aggregates, traits
    assert collections.Counter((r.kind, r.requests) for r in alone) == {("nova", 2): 12, ("nova_refresh", 6): 3}

    driver.run("agent", cycles=1, jitter=False, timeout=120)
    for node in nodes:
        node.nova_learns_tree()
    with_child, _ = driver.run("nova", cycles=5, jitter=True, timeout=120)
    assert all(r.ok for r in with_child)
    assert collections.Counter((r.kind, r.requests) for r in with_child) == {("nova", 3): 12, ("nova_refresh", 10): 3}


def test_an_allocation_change_makes_the_next_cycle_read_again_and_nothing_fails(nodes, placement):
    driver = fleet.Driver(nodes, threads=3, scale=3000, rng=random.Random(7))
    driver.run("agent", cycles=1, jitter=False, timeout=120)
    node = nodes[0]
    node.nova_learns_tree()
    child = next(rp for rp in node.nova_tree if rp != node.root_uuid)
    churn = fleet.Churn(nodes, placement.url, rate=0.05, scale=20, rng=random.Random(7))
    usages = fleet._adapter(placement.url)

    churn.change(node)  # a scheduler allocates an instance with a PMEM namespace on this node
    used = usages.get(f"/resource_providers/{child}/usages", microversion="1.1").json()["usages"]
    assert used[fleet.PMEM_CLASS] == 1
    ok, sent, changed, retries, _ = node.agent_cycle()
    assert (ok, changed, retries) == (True, True, 0)
    assert sent > 1  # the generations moved: the agent reads again what changed
    ok, sent, changed, _, _ = node.agent_cycle()
    assert (ok, sent, changed) == (True, 1, False)  # and is back to one request

    churn.change(node)  # the instance goes away
    used = usages.get(f"/resource_providers/{child}/usages", microversion="1.1").json()["usages"]
    assert used[fleet.PMEM_CLASS] == 0
    ok, sent, changed, _, _ = node.agent_cycle()
    assert (ok, changed) == (True, True)  # labelled "after_alloc" by the driver
    assert dict(churn.counts) == {"requests": 2, "allocated": 1, "freed": 1}


def _measured(workers: int, cpu_ms: float, db_ms: float, busy_ms: float | None, steady_s: float) -> dict:
    """One set-up's phases as bench/production.py records them: 10 nodes x 10 cycles."""
    ok = {"conflicts_409": 0, "failed_cycles": 0, "errors_5xx": 0, "retries": 0}
    steady = {**ok, "cycles": 100, "requests": 140, "placement_cpu_s": cpu_ms / 10, "db_cpu_s": db_ms / 10,
              "wall_s": steady_s, "client_cpu_s": 0.3, "mean_ms": 10.0,
              "steady": {"requests_per_cycle": 1, "p50_ms": 8.0, "p99_ms": 20.0}}
    if busy_ms is not None:
        steady["server_busy_s"] = busy_ms / 10
    return {"setup": f"PostgreSQL, gunicorn, {workers} workers", "workers": workers, "nodes": 10,
            "first_sync": {**ok, "wall_s": 1.0, "requests": 90, "client_cpu_s": 0.1},
            "steady": steady,
            "nova": {"cycles": 50, "requests": 140, "placement_cpu_s": 0.1, "db_cpu_s": 0.05}}


# 10 intervals of 15 s (the agent's 300 s, scale 20) plus 10 ms per cycle: on schedule, a node's
# steady phase lasts 150.1 s. Capacities are nodes at the agent's 300 s interval.
@pytest.mark.parametrize("workers, cores, cpu_ms, db_ms, busy_ms, steady_s, basis, capacity, behind", [
    # a sync worker is held for the request's wall time, not only its CPU: 300 s / 2 ms
    (1, 2, 1.0, 0.5, 2.0, 150.0, "workers", 150_000, False),
    # a run recorded before the wall time was measured: its CPU
    (1, 2, 2.0, 0.5, None, 150.0, "workers", 150_000, False),
    # four workers on one core with the database beside them: the core is the limit
    (4, 1, 1.0, 1.0, 1.0, 150.0, "cores", 150_000, False),
    # fell behind (300 s for 150.1 s): capped by the 100 nodes at 300 s it actually served
    # (100 node-cycles in 300 s: 20 per minute, one per node every 300 s)
    (4, 2, 1.0, 0.5, 2.0, 300.0, "measured", 100, True),
])
def test_nodes_per_worker_is_the_lowest_bound_and_falling_behind_caps_it_at_what_was_served(
        workers, cores, cpu_ms, db_ms, busy_ms, steady_s, basis, capacity, behind):
    d = figures.derive(_measured(workers, cpu_ms, db_ms, busy_ms, steady_s), {"intervals": 10, "scale": 20}, cores)
    assert d["capacity_basis"] == basis
    assert d["capacity_60s"] == pytest.approx(capacity)
    assert d["nodes_per_worker_60s"] == pytest.approx(capacity / workers)
    assert d["behind"] is behind
    assert d["offered_60s"] == 200


def test_the_docs_paragraph_and_readme_sentence_come_from_the_figures():
    results = {"machine": {"cpu": "x", "cores": "2", "memory_gib": "1", "kernel": "k", "python": "3",
                           "openstack_placement": "1", "gunicorn": "1", "psycopg2-binary": "1", "SQLAlchemy": "1",
                           "date": "d"},
               "args": {"nodes": 10, "threads": 4, "intervals": 10, "scale": 20, "churn": 0.0},
               "load_before": "0 0 0", "load_after": "0 0 0",
               "setups": [_measured(1, 1.0, 0.5, 2.0, 150.0), _measured(4, 1.0, 0.5, 2.0, 300.0)]}
    for r in results["setups"]:
        r["derived"] = figures.derive(r, results["args"], 2)
    text = figures.render(results)
    assert "| 300 (150) **behind**, late p99 " in text
    assert "Fell behind it: PostgreSQL, gunicorn, 4 workers (300 s for 150 s)" in text
    assert "No allocation changed" in text
    sentence = figures.readme_sentence(results)
    assert "gunicorn with 4 workers" in sentence and "about 25 nodes per Placement worker" in sentence
    assert "(measured ceiling)" in sentence


def test_churn_is_reported_per_node_minute_against_nova_as_the_steady_state_is():
    r = _measured(1, 1.0, 0.5, 2.0, 150.0)
    r["churn"] = {"cycles": 100, "requests": 200, "conflicts_409": 0, "failed_cycles": 0, "errors_5xx": 0}  # 2 per cycle: 0.4/min
    r["nova_with_child"] = {"cycles": 50, "requests": 190, "placement_cpu_s": 0.1, "db_cpu_s": 0.05}
    d = figures.derive(r, {"intervals": 10, "scale": 20}, 2)
    assert d["agent_req_per_min"] == pytest.approx(1.4 / 5)  # steady, verification included
    assert d["agent_req_per_min_churn"] == pytest.approx(0.4)
    assert d["ratio_req_churn"] == pytest.approx(0.4 / 2.8)  # nova: 2.8 per 60 s periodic
    assert d["total_ratio_req_churn"] == pytest.approx((0.4 + 1.0) / 2.8)  # nova's reads of the child: +1/min
    results = {"machine": {"cpu": "x", "cores": "2", "memory_gib": "1", "kernel": "k", "python": "3",
                           "openstack_placement": "1", "gunicorn": "1", "psycopg2-binary": "1", "SQLAlchemy": "1",
                           "date": "d"},
               "args": {"nodes": 10, "threads": 4, "intervals": 10, "scale": 20, "churn": 0.05},
               "load_before": "0 0 0", "load_after": "0 0 0", "setups": [{**r, "derived": d}]}
    assert "| 0.40 / 0.14 / 0.50 |" in figures.render(results)
    assert "0.40 per node-minute and 0.50 with allocation churn" in figures.readme_sentence(results)


def test_a_gunicorn_that_never_gets_ready_is_stopped_not_left_running(tmp_path):
    pytest.importorskip("gunicorn")  # the bench extra
    pytest.importorskip("psutil")
    import servers  # bench/servers.py

    server = servers.Gunicorn(f"sqlite:///{tmp_path / 'placement.db'}", 1, tmp_path)
    server.db_sync()
    server.start_timeout = 5
    server.url = f"http://127.0.0.1:{servers.free_port()}"  # its readiness check asks where nobody answers
    with pytest.raises(RuntimeError, match="gunicorn with 1 Placement worker did not start"):
        server.start()
    assert server.proc is not None and server.proc.poll() is not None  # the master (and its workers) stopped
    server.stop()  # and stopping again is harmless
