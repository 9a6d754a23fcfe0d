"""A concurrent fleet of simulated compute nodes, each a real pmem-placement Agent, for bench/production.py.

Every node is a root provider created the way nova-compute creates one (name = host; VCPU,
MEMORY_MB, DISK_GB; nova's traits) and an ``Agent`` (pmem_placement.agent.cycle) with its own
configuration file and state directory. A scheduler thread starts cycles when they are due on a
pool of threads; the due times follow the agent's own ``Schedule`` (initial jitter, interval,
backoff after failures) with every duration divided by ``scale`` (compressed time).

Verification reads: the agent trusts its cached generation for 1-request steady cycles and
verifies at least every ``[agent]verify_interval`` seconds (1800 by default): the agent's own
path, on the schedule's own time (its reconciler's clock advances by each uncompressed delay, not
by the machine's speed: about every 6th cycle, as a real agent), told from the state file's
``verified_at``. The agent runs on its default interval (300 s), nova's pattern on its own
periodic update (60 s): figures per node-minute compare them.

Allocation churn: while it runs, a scheduler-like writer (``Churn``) changes the
allocations of a stated share of the nodes per interval (5% by default): on a node without an
instance it allocates one like nova's scheduler would for an instance with a PMEM namespace (VCPU
and MEMORY_MB from the compute node, one namespace from the ``:pmem`` child, microversion 1.28
with its consumer generation), on a node with one it deletes it. Each change moves the providers'
generations, so the node's next cycle reads again what changed ("after_alloc" cycles), and an
allocation landing between two of the agent's reads makes it retry (counted from the
reconciler's retry sleeps). The agent writes nothing in steady state, so no 409 can come from
its writes here; the scheduler's own 409s are counted.

The nova baseline replays, on the same nodes, the requests nova-compute's report client makes for
an idle compute node (nova master, nova/compute/resource_tracker.py and
nova/scheduler/client/report.py): every periodic update (60 s) ``GET .../allocations`` of the
compute node (deleted-instance clean-up) and of every provider in its tree (provider-tree
allocations), and every ``resource_provider_association_refresh`` (300 s) the tree, then the
inventories, aggregates and traits of every provider in it. Nova tracks the whole tree, so once
pmem-placement has created the ``:pmem`` child, nova reads it too. One ``GET /allocations/{consumer}``
more per instance on the host per periodic update is left out (the simulated hosts have no
instances), so it is a floor.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import heapq
import json
import pathlib
import random
import statistics
import threading
import time
import typing
import uuid

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from oslo_config import cfg

from pmem_placement import conf as conf_mod
from pmem_placement.cmd import demo
from pmem_placement.agent.cycle import Agent
from pmem_placement.agent.schedule import Schedule
from pmem_placement.embedded import TOKEN
from pmem_placement.placement.client import Client
from pmem_placement.state import StateStore

INTERVAL = 300.0  # [agent]interval, seconds (its default)
VERIFY_INTERVAL = 1800.0  # [agent]verify_interval, seconds (its default)
CYCLE = 1.0  # a cycle's duration on the agents' clock (see Node.compress)
NOVA_PERIODIC = 60.0  # nova-compute update_available_resource
NOVA_ASSOCIATION_REFRESH = 300.0  # [compute]resource_provider_association_refresh
MAPPING = "4GB:ns_0,SMALL:ns_1|ns_2"
PMEM_CLASS = "CUSTOM_PMEM_NAMESPACE_SMALL"  # what the churn allocates: 1 of the 2 SMALL namespaces

# An interrupt must not be raised inside the scheduler (it could leave a future's lock held and
# hang every thread): while a fleet runs, signal handlers set STOP and the scheduler stops itself.
RUNNING = threading.Event()
STOP = threading.Event()


def _adapter(url: str) -> ks_adapter.Adapter:
    return ks_adapter.Adapter(ks_session.Session(auth=token_endpoint.Token(url, TOKEN)), service_type="placement")


@dataclasses.dataclass
class CycleRecord:
    kind: str  # "first", "steady", "verify", "after_alloc", "nova", "nova_refresh"
    seconds: float
    requests: int
    ok: bool
    late: float  # how long after its due time the cycle started
    retries: int = 0  # the reconciler's retries after a conflict (its retry sleeps)


class Node:
    def __init__(self, work: pathlib.Path, url: str, admin: Client, name: str, sample: str) -> None:
        self.name = name
        self.dir = work / self.name
        self.dir.mkdir()
        self.root_uuid = demo.create_compute_node(admin, self.name)
        (self.dir / "ndctl.json").write_text(sample)
        config = self.dir / "pmem-placement.conf"
        config.write_text(
            f"[DEFAULT]\nhost = {self.name}\n"
            f"[pmem]\nnamespaces = {MAPPING}\ndiscovery = file\nnamespaces_file = {self.dir / 'ndctl.json'}\n"
            f"[agent]\nstate_dir = {self.dir / 'state'}\n"
            f"[placement]\nauth_type = admin_token\nendpoint = {url}\ntoken = {TOKEN}\n")
        conf = cfg.ConfigOpts()
        conf_mod.register_opts(conf)
        conf(["--config-file", str(config)])
        self.conf = conf
        self.agent = Agent(conf)
        self.store = StateStore(str(self.dir / "state"))
        self.nova = _adapter(url)
        self.nova_tree = [self.root_uuid]
        self.consumer: str | None = None  # the churn's instance on this node, if any
        self.alloc_changed = False  # set by the churn, read by the next cycle
        self.retries = 0
        self.cycles = 0  # agent cycles run, over every phase
        reconciler = self.agent._reconciler_for()  # the agent's own, as its cycles use it
        sleep = reconciler.sleep

        def counting_sleep(seconds: float) -> None:  # the reconciler sleeps only between retries
            self.retries += 1
            sleep(seconds)

        reconciler.sleep = counting_sleep
        self.reconciler = reconciler
        self.now, self.scale = time.time(), 1.0  # the reconciler's clock (see compress)

    def compress(self, scale: float) -> None:
        """The agent's own verification on compressed time: its reconciler's clock is the node's
        schedule, uncompressed (``scale`` times each compressed delay), advanced by ``wait``, plus
        a nominal second per cycle (a real agent waits its interval after its cycle ends, so it
        crosses verify_interval by its cycles' durations, never lands on it). The machine's speed
        does not move it: how often a node verifies depends on its schedule only."""
        self.scale = scale
        self.reconciler.clock = lambda: self.now

    def wait(self, compressed: float) -> None:
        """The schedule's next delay has passed (compressed seconds), after a cycle of 1 s."""
        self.now += compressed * self.scale + CYCLE

    def _verified_at(self) -> float | None:
        try:
            return json.loads((self.dir / "state" / "state.json").read_text()).get("verified_at")
        except (OSError, ValueError):
            return None

    def requests_sent(self) -> int:
        return sum(self.agent.status.requests.values())

    def agent_cycle(self) -> tuple[bool, int, bool, int, bool]:
        """(in sync, requests, allocations changed since the last cycle, retries, verified: the
        agent's own verification read everything)."""
        changed, self.alloc_changed = self.alloc_changed, False
        before, retries, verified_at = self.requests_sent(), self.retries, self._verified_at()
        ok = self.agent.cycle()
        self.cycles += 1
        verified = self._verified_at() != verified_at
        return ok, self.requests_sent() - before, changed, self.retries - retries, verified

    def nova_cycle(self, refresh: bool) -> tuple[bool, int]:
        """One periodic update of nova-compute's report client for this idle compute node: it
        tracks every provider in the compute node's tree, the :pmem child included once seen."""
        sent, ok = 0, True

        def get(path: str, version: str) -> typing.Any:
            nonlocal sent, ok
            sent += 1
            resp = self.nova.get(path, microversion=version, raise_exc=False)
            ok = ok and resp.status_code == 200
            return resp

        if refresh:  # _ensure_resource_provider + _refresh_associations(force=True)
            resp = get(f"/resource_providers?in_tree={self.root_uuid}", "1.14")
            if resp.status_code == 200:
                self.nova_tree = [rp["uuid"] for rp in resp.json()["resource_providers"]]
            for rp in self.nova_tree:
                get(f"/resource_providers/{rp}/inventories", "1.14")
                get(f"/resource_providers/{rp}/aggregates", "1.19")
                get(f"/resource_providers/{rp}/traits", "1.6")
        get(f"/resource_providers/{self.root_uuid}/allocations", "1.0")  # _remove_deleted_instances_allocations
        for rp in self.nova_tree:  # get_allocations_for_provider_tree
            get(f"/resource_providers/{rp}/allocations", "1.0")
        return ok, sent

    def nova_learns_tree(self) -> None:
        """What nova-compute knows after a refresh: the compute node's whole tree (not measured)."""
        resp = self.nova.get(f"/resource_providers?in_tree={self.root_uuid}", microversion="1.14")
        self.nova_tree = [rp["uuid"] for rp in resp.json()["resource_providers"]]


class Churn:
    """A scheduler-like writer: ``rate`` x nodes allocation changes per (compressed) interval,
    evenly spaced, each on a random node, on its own thread while ``running``."""

    def __init__(self, nodes: list[Node], url: str, rate: float, scale: float, rng: random.Random) -> None:
        self.nodes = nodes
        self.rate = rate
        self.period = INTERVAL / scale / (rate * len(nodes)) if rate > 0 else 0.0
        self.rng = rng
        self.api = _adapter(url)
        self.counts: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def change(self, node: Node) -> None:
        """Allocate on a node without an instance, free the one on a node with one."""
        if len(node.nova_tree) < 2:
            node.nova_learns_tree()
        child = next(rp for rp in node.nova_tree if rp != node.root_uuid)
        self.counts["requests"] += 1
        if node.consumer is None:
            consumer = str(uuid.uuid4())
            body = {"allocations": {node.root_uuid: {"resources": {"VCPU": 1, "MEMORY_MB": 512}},
                                    child: {"resources": {PMEM_CLASS: 1}}},
                    "project_id": str(uuid.UUID(int=1)), "user_id": str(uuid.UUID(int=2)), "consumer_generation": None}
            resp = self.api.put(f"/allocations/{consumer}", json=body, microversion="1.28", raise_exc=False)
            kind = "allocated"
            if resp.status_code == 204:
                node.consumer = consumer
        else:
            resp = self.api.delete(f"/allocations/{node.consumer}", microversion="1.28", raise_exc=False)
            kind = "freed"
            if resp.status_code == 204:
                node.consumer = None
        if resp.status_code == 204:
            self.counts[kind] += 1
            node.alloc_changed = True
        elif resp.status_code == 409:
            self.counts["conflicts_409"] += 1
        else:
            self.counts[f"failed_{resp.status_code}"] += 1

    def _run(self) -> None:
        next_at = time.monotonic() + self.rng.uniform(0, self.period)
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self.change(self.rng.choice(self.nodes))
            next_at += self.period

    @contextlib.contextmanager
    def running(self) -> typing.Iterator["Churn"]:
        if self.rate <= 0:
            yield self
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="churn", daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def make_nodes(work: pathlib.Path, url: str, admin: Client, count: int, sample: str,
               prefix: str = "compute") -> list[Node]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: Node(work, url, admin, f"{prefix}-{i:05d}", sample), range(count)))


class Driver:
    """Runs cycles of many nodes on ``threads`` threads, each when it is due."""

    def __init__(self, nodes: list[Node], threads: int, scale: float, rng: random.Random) -> None:
        self.nodes = nodes
        self.threads = threads
        self.scale = scale
        self.rng = rng
        for node in nodes:
            node.compress(scale)

    def run(self, kind: str, cycles: int, jitter: bool, timeout: float) -> tuple[list[CycleRecord], float]:
        """Every node runs ``cycles`` cycles; (records, wall seconds). ``kind``: agent or nova."""
        # The agent on its interval, nova on its periodic update: each its own schedule.
        interval = (INTERVAL if kind == "agent" else NOVA_PERIODIC) / self.scale
        schedule = Schedule(interval=interval, initial_jitter=interval if jitter else 0.0, max_backoff=10 * interval)
        every = round(NOVA_ASSOCIATION_REFRESH / NOVA_PERIODIC)
        phase = {id(n): self.rng.randrange(every) for n in self.nodes}
        done_cycles = {id(n): 0 for n in self.nodes}
        start = time.monotonic()
        due: list[tuple[float, int, Node]] = []
        for i, node in enumerate(self.nodes):
            delay = schedule.first_delay(self.rng)
            # The agent's clock follows its own schedule: a node that ran before waits its interval
            # after its last cycle, as a real agent does (the jitter spreads the phases' wall time only).
            if kind == "agent":
                node.wait(schedule.interval if node.cycles else delay)
            due.append((start + delay, i, node))
        heapq.heapify(due)
        records: list[CycleRecord] = []
        lock = threading.Lock()

        def one(i: int, node: Node, due_at: float, index: int) -> tuple[int, Node, CycleRecord]:
            started = time.monotonic()
            special = (index + phase[id(node)]) % every == 0
            t0 = time.perf_counter()
            retries = 0
            if kind == "agent":
                ok, sent, changed, retries, verified = node.agent_cycle()
                label = "first" if cycles == 1 else ("verify" if verified else "after_alloc" if changed else "steady")
            else:
                ok, sent = node.nova_cycle(refresh=special)
                label = "nova_refresh" if special else "nova"
            return i, node, CycleRecord(label, time.perf_counter() - t0, sent, ok, started - due_at, retries)

        deadline = start + timeout
        pool = concurrent.futures.ThreadPoolExecutor(self.threads)
        RUNNING.set()
        try:
            running: set[concurrent.futures.Future[tuple[int, Node, CycleRecord]]] = set()
            while due or running:
                if STOP.is_set():
                    raise KeyboardInterrupt
                if time.monotonic() > deadline:
                    for f in running:
                        f.cancel()
                    raise RuntimeError(f"the fleet did not finish its {kind} cycles within {timeout:.0f} s")
                now = time.monotonic()
                while due and due[0][0] <= now and len(running) < self.threads:
                    at, i, node = heapq.heappop(due)
                    running.add(pool.submit(one, i, node, at, done_cycles[id(node)]))
                # Wait for a finished cycle, or until the next one is due if a thread is free for it.
                free = len(running) < self.threads
                wait = max(0.0, min(0.05, due[0][0] - now)) if due and free else 0.05
                if not running:  # concurrent.futures.wait() returns at once on an empty set
                    time.sleep(wait)
                    continue
                finished, running = concurrent.futures.wait(running, timeout=wait,
                                                            return_when=concurrent.futures.FIRST_COMPLETED)
                for f in finished:
                    i, node, record = f.result()
                    with lock:
                        records.append(record)
                    done_cycles[id(node)] += 1
                    if done_cycles[id(node)] < cycles:
                        failures = node.agent.status.consecutive_failures if kind == "agent" else 0
                        delay = schedule.next_delay(failures, self.rng)
                        if kind == "agent":
                            node.wait(delay)
                        heapq.heappush(due, (time.monotonic() + delay, i, node))
        finally:
            RUNNING.clear()
            pool.shutdown(wait=True, cancel_futures=True)  # cycles in flight end within [placement]timeout
        return records, time.monotonic() - start


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def summary(records: list[CycleRecord]) -> dict[str, typing.Any]:
    by: dict[str, list[CycleRecord]] = {}
    for r in records:
        by.setdefault(r.kind, []).append(r)
    out: dict[str, typing.Any] = {"cycles": len(records), "failed_cycles": sum(not r.ok for r in records),
                                  "requests": sum(r.requests for r in records),
                                  "retries": sum(r.retries for r in records),
                                  "mean_ms": statistics.mean(r.seconds * 1000 for r in records) if records else 0.0,
                                  "late_p50_ms": percentile([r.late * 1000 for r in records], 50),
                                  "late_p99_ms": percentile([r.late * 1000 for r in records], 99)}
    for kind, rs in by.items():
        out[kind] = {"cycles": len(rs), "requests_per_cycle": statistics.mean(r.requests for r in rs),
                     "p50_ms": percentile([r.seconds * 1000 for r in rs], 50),
                     "p99_ms": percentile([r.seconds * 1000 for r in rs], 99)}
    return out
