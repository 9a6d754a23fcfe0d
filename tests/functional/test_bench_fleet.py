"""The production fleet bench (bench/fleet.py) measures what it says, against the real Placement.

Its figures are only as good as its model: a steady cycle is one request, the modelled
verification read is a full read once per verify_interval, nova's pattern sends what nova sends.
Times are not asserted here.
"""

import collections
import pathlib
import random
import sys
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))

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

    steady, _ = driver.run("agent", cycles=10, jitter=True, timeout=120)
    assert all(r.ok for r in steady)
    kinds = collections.Counter(r.kind for r in steady)
    assert kinds == {"steady": 27, "verify": 3}
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
