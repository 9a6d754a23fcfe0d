"""Fleet figures on a production-shaped Placement: PostgreSQL and gunicorn workers, overlapping agents.

For each set-up (today's bench Placement: sqlite behind one single-threaded wsgiref server; the
real Placement WSGI app under gunicorn with 1 and with 4 worker processes on PostgreSQL), a fleet
of simulated compute nodes (bench/fleet.py) runs, each node a real pmem-placement Agent:

1. first sync of the whole fleet, every agent starting at once (``--threads`` at a time);
2. steady state: ``--intervals`` agent intervals per node on the agent's schedule, compressed
   ``--scale`` times, phases spread over the interval, with the verification reads and a
   scheduler-like writer changing allocations (``--churn``);
3. nova's report-client pattern on the same nodes for 5 periodic updates (one association refresh),
   before the first sync (nova alone) and at the end (nova also tracking the :pmem child).

Capacity is the lowest of three bounds: the workers (60 s over a node-cycle's request wall time
in a worker, never less than its CPU), the machine's cores (shared with the database), and, when
the set-up fell behind its schedule, the node-cycles it actually served per 60 s.

Figures are printed and written as JSON (bench/results/production.json). With ``--docs`` (what
``tools/bench.sh --production`` passes when given no other option) the fleet section of
docs/benchmarks.md and the README's fleet sentence, between their markers, are rewritten.

    bash tools/bench.sh --production                   # the full run; rewrites the docs
    bash tools/bench.sh --production --nodes 20 ...    # a trial; docs untouched
"""

import argparse
import contextlib
import datetime
import json
import os
import pathlib
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import typing

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fleet  # noqa: E402
import servers  # noqa: E402
from run import Placement  # noqa: E402
from run import admin_client  # noqa: E402
from run import ndctl_json  # noqa: E402

DOCS = HERE.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- production-fleet:begin -->", "<!-- production-fleet:end -->"
README = HERE.parent / "README.md"
README_BEGIN, README_END = "<!-- production-fleet-sentence:begin -->", "<!-- production-fleet-sentence:end -->"


class Setup(typing.Protocol):
    label: str
    url: str
    workers: int

    def placement_cpu(self) -> float: ...
    def db_cpu(self) -> float: ...
    def answers(self) -> tuple[dict[str, int], float]: ...
    def close(self) -> None: ...


class SqliteSetup:
    """bench/placement_server.py: sqlite, wsgiref, one request at a time (the other benchmarks' Placement)."""

    label = "sqlite, wsgiref, 1 process (bench/run.py)"
    workers = 1

    def __init__(self, work: pathlib.Path) -> None:
        (work / "sqlite").mkdir()
        self.server = Placement(str(work / "sqlite"))
        self.url = self.server.url

    def placement_cpu(self) -> float:
        return servers.cpu_seconds(self.server.proc.pid)

    def db_cpu(self) -> float:
        return 0.0  # sqlite runs inside the Placement process: counted there

    def answers(self) -> tuple[dict[str, int], float]:
        stats = self.server.stats()
        return dict(stats.get("by_status", {})), float(stats["service_seconds"])

    def close(self) -> None:
        self.server.close()


class GunicornSetup:
    def __init__(self, pg: servers.PostgreSQL, workers: int, work: pathlib.Path) -> None:
        self.label = f"PostgreSQL, gunicorn, {workers} worker{'s' if workers > 1 else ''}"
        self.workers = workers
        self.pg = pg
        self.server = servers.Gunicorn(pg.database(f"placement{workers}"), workers, work)
        self.server.db_sync()
        self.server.start()  # stops what it started when it fails
        self.url = self.server.url

    def placement_cpu(self) -> float:
        return self.server.cpu_seconds()

    def db_cpu(self) -> float:
        return self.pg.cpu_seconds()

    def answers(self) -> tuple[dict[str, int], float]:
        return self.server.answers()

    def close(self) -> None:
        self.server.stop()


def idle_rates(setup: Setup, seconds: float = 3.0) -> tuple[float, float]:
    """CPU seconds per second the servers spend with no request (gunicorn's and PostgreSQL's timers)."""
    cpu, db = setup.placement_cpu(), setup.db_cpu()
    time.sleep(seconds)
    return (setup.placement_cpu() - cpu) / seconds, (setup.db_cpu() - db) / seconds


@contextlib.contextmanager
def measured(setup: Setup, idle: tuple[float, float]) -> typing.Iterator[dict[str, float]]:
    """Server and database CPU spent inside the block (idle share removed), requests by status,
    the servers' summed request wall time, and the bench process's own CPU."""
    out: dict[str, float] = {}
    cpu, db, (answers, busy) = setup.placement_cpu(), setup.db_cpu(), setup.answers()
    client, started = time.process_time(), time.monotonic()
    yield out
    wall = time.monotonic() - started
    after, busy_after = setup.answers()
    out["client_cpu_s"] = time.process_time() - client
    out["placement_cpu_raw_s"] = setup.placement_cpu() - cpu
    out["db_cpu_raw_s"] = setup.db_cpu() - db
    out["placement_cpu_s"] = max(0.0, out["placement_cpu_raw_s"] - idle[0] * wall)
    out["db_cpu_s"] = max(0.0, out["db_cpu_raw_s"] - idle[1] * wall)
    out["server_busy_s"] = busy_after - busy
    out["server_requests"] = sum(after.values()) - sum(answers.values())
    out["conflicts_409"] = after.get("409", 0) - answers.get("409", 0)
    out["errors_5xx"] = sum(v - answers.get(k, 0) for k, v in after.items() if k.startswith("5"))


def run_fleet(setup: Setup, work: pathlib.Path, args: argparse.Namespace) -> dict[str, typing.Any]:
    print(f"\n== {setup.label}: {args.nodes} nodes", flush=True)
    rng = random.Random(args.seed)
    admin = admin_client(setup.url)
    sample = ndctl_json(["ns_0", "ns_1", "ns_2"])
    # Warm-up outside the figures: one node of its own syncs once, so that imports and first
    # connections of the bench process are not counted in the fleet's first sync.
    fleet.make_nodes(work, setup.url, admin, 1, sample, prefix="warmup")[0].agent_cycle(verify=False)
    nodes = fleet.make_nodes(work, setup.url, admin, args.nodes, sample)
    driver = fleet.Driver(nodes, args.threads, args.scale, rng)
    interval = fleet.INTERVAL / args.scale
    timeout = 120 + 5 * args.intervals * interval
    idle = idle_rates(setup)
    result: dict[str, typing.Any] = {"setup": setup.label, "workers": setup.workers, "nodes": args.nodes,
                                     "idle_cpu_per_s": {"placement": idle[0], "database": idle[1]}}

    with measured(setup, idle) as cost:  # nova alone: compute nodes without a :pmem child
        records, wall = driver.run("nova", cycles=5, jitter=True, timeout=timeout)
    result["nova"] = {**fleet.summary(records), **cost, "wall_s": wall}
    print(f"   nova alone: {result['nova']['cycles']} periodic updates in {wall:.1f} s", flush=True)

    with measured(setup, idle) as cost:
        records, wall = driver.run("agent", cycles=1, jitter=False, timeout=timeout)
    result["first_sync"] = {**fleet.summary(records), **cost, "wall_s": wall}
    print(f"   first sync: {wall:.1f} s, {result['first_sync']['requests']} requests", flush=True)

    for node in nodes:  # the :pmem children, for the churn and nova (not measured)
        node.nova_learns_tree()
    with measured(setup, idle) as cost:
        records, wall = driver.run("agent", cycles=args.intervals, jitter=True, timeout=timeout)
    steady = {**fleet.summary(records), **cost, "wall_s": wall}
    result["steady"] = steady
    print(f"   steady: {steady['cycles']} cycles in {wall:.1f} s (planned {args.intervals * interval:.0f} s), "
          f"{steady['requests']} requests", flush=True)
    if steady.get("verify", {}).get("requests_per_cycle", 0) <= 1:
        print("   WARNING: dropping the state file did not force a full read: verification is not modelled",
              flush=True)

    # The same again with a scheduler-like writer changing allocations: measured apart, so that the
    # steady figures above stay pmem-placement's own cost.
    churn = fleet.Churn(nodes, setup.url, args.churn, args.scale, random.Random(args.seed + 1))
    with measured(setup, idle) as cost, churn.running():
        records, wall = driver.run("agent", cycles=args.intervals, jitter=True, timeout=timeout)
    result["churn"] = {**fleet.summary(records), **cost, "wall_s": wall, "scheduler": dict(churn.counts)}
    print(f"   with allocation churn: {wall:.1f} s, {churn.counts['allocated'] + churn.counts['freed']} allocation "
          f"changes, {result['churn'].get('after_alloc', {}).get('cycles', 0)} cycles right after one", flush=True)

    for phase in ("first_sync", "steady", "churn"):
        sent = result[phase]["requests"] + result[phase].get("scheduler", {}).get("requests", 0)
        seen = result[phase]["server_requests"]
        if sent != seen:
            print(f"   WARNING: {phase}: the agents and the scheduler counted {sent} requests, the server {seen}",
                  flush=True)

    for node in nodes:
        node.nova_learns_tree()
    with measured(setup, idle) as cost:  # nova once it knows the :pmem child
        records, wall = driver.run("nova", cycles=5, jitter=True, timeout=timeout)
    result["nova_with_child"] = {**fleet.summary(records), **cost, "wall_s": wall}
    print(f"   nova with the :pmem child: {wall:.1f} s", flush=True)
    return result


BEHIND = 1.1  # a steady phase that took longer than 110% of its schedule fell behind it


def derive(r: dict[str, typing.Any], args: dict[str, typing.Any], cores: int) -> dict[str, typing.Any]:
    s, n = r["steady"], r["nova"]
    cycles = s["cycles"]
    cpu = s["placement_cpu_s"] / cycles
    db = s["db_cpu_s"] / cycles
    busy = s.get("server_busy_s", float("nan")) / cycles  # nan: a run from before it was measured
    nova_cpu = n["placement_cpu_s"] / n["cycles"]
    nova_db = n["db_cpu_s"] / n["cycles"]
    nova_req = n["requests"] / n["cycles"]
    with_verify = s["requests"] / cycles
    # Like the agent, a node waits its interval after each cycle ends: on schedule, its cycles take
    # the intervals plus their own durations.
    mean_cycle = s.get("mean_ms", s.get("steady", {}).get("p50_ms", 0.0)) / 1000
    planned = args["intervals"] * (fleet.INTERVAL / args["scale"] + mean_cycle)
    behind = s["wall_s"] > BEHIND * planned
    served = cycles * 60 / s["wall_s"]  # node-cycles per 60 s this set-up actually served
    # A sync worker is occupied for each request's wall time (its CPU, the database round trips,
    # waiting for a core), never less than its CPU; the machine's cores bound all workers and the
    # database together; a set-up that fell behind measured its own ceiling.
    held = max(cpu, busy) if busy == busy else cpu
    per_worker = 60 / held if held > 0 else float("inf")
    bounds = {"workers": r["workers"] * per_worker,
              "cores": cores * 60 / (cpu + db) if cpu + db else float("inf")}
    if behind:
        bounds["measured"] = served
    basis = min(bounds, key=lambda k: bounds[k])
    ch = r.get("churn", {})
    phases = [k for k in ("first_sync", "steady", "churn") if k in r]
    scheduler = ch.get("scheduler", {})
    out = {
        "req_steady": s.get("steady", {}).get("requests_per_cycle", float("nan")),
        "req_with_verify": with_verify,
        "req_after_alloc": ch.get("after_alloc", {}).get("requests_per_cycle", float("nan")),
        "req_with_churn": ch["requests"] / ch["cycles"] if ch else float("nan"),
        "cycles_after_alloc": ch.get("after_alloc", {}).get("cycles", 0),
        "cpu_ms": cpu * 1000,
        "db_ms": db * 1000,
        "busy_ms": busy * 1000,
        "client_cpu_ms": s["client_cpu_s"] / cycles * 1000,
        "p50_ms": s.get("steady", {}).get("p50_ms", float("nan")),
        "p99_ms": s.get("steady", {}).get("p99_ms", float("nan")),
        "late_p99_ms": s.get("late_p99_ms", float("nan")),
        "verify_p50_ms": s.get("verify", {}).get("p50_ms", float("nan")),
        # 409s the server sent (to the agents or the scheduler), the agents' retries, failed cycles
        "conflicts": sum(r[k]["conflicts_409"] for k in phases),
        "retries": sum(r[k].get("retries", 0) for k in phases),
        "failed": sum(r[k]["failed_cycles"] for k in phases),
        "errors_5xx": sum(r[k]["errors_5xx"] for k in phases),
        "churn_changes": scheduler.get("allocated", 0) + scheduler.get("freed", 0),
        "churn_409": scheduler.get("conflicts_409", 0),
        "first_sync_s": r["first_sync"]["wall_s"],
        "first_sync_client_cpu_s": r["first_sync"]["client_cpu_s"],
        "first_sync_req_per_node": r["first_sync"]["requests"] / r["nodes"],
        "planned_s": planned,
        "steady_s": s["wall_s"],
        "behind": behind,
        "offered_60s": r["nodes"] * args["scale"],
        "served_60s": served,
        "cpu_bound_per_worker_60s": 60 / cpu if cpu else float("inf"),
        "wall_bound_per_worker_60s": 60 / busy if busy and busy == busy else float("inf"),
        "capacity_60s": bounds[basis],
        "capacity_basis": basis,
        "nodes_per_worker_60s": bounds[basis] / r["workers"],
        "nova_req": nova_req,
        "nova_cpu_ms": nova_cpu * 1000,
        "nova_db_ms": nova_db * 1000,
        "ratio_req": with_verify / nova_req,
        "ratio_cpu": (cpu + db) / (nova_cpu + nova_db) if nova_cpu + nova_db else float("nan"),
    }
    c = r.get("nova_with_child")
    if c:
        child_req = c["requests"] / c["cycles"]
        child_cpu = (c["placement_cpu_s"] + c["db_cpu_s"]) / c["cycles"]
        out["nova_child_req"] = child_req
        out["total_ratio_req"] = (with_verify + child_req - nova_req) / nova_req
        out["total_ratio_cpu"] = (cpu + db + child_cpu - nova_cpu - nova_db) / (nova_cpu + nova_db)
    return out


def machine() -> dict[str, str]:
    from importlib import metadata

    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = int(pathlib.Path("/proc/meminfo").read_text().split()[1])
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory_gib": f"{mem_kb / 2**20:.0f}",
            "kernel": platform.release(), "python": platform.python_version(),
            "openstack_placement": metadata.version("openstack-placement"), **servers.versions(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def load() -> str:
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


BASIS = {"workers": "worker-bound", "cores": "core-bound", "measured": "measured ceiling"}


def _n(value: float) -> str:
    return f"{value:,.0f}" if value not in (float("inf"), float("-inf")) and value == value else "-"


def _f(value: float, fmt: str = "{:.2f}") -> str:
    """A figure, or "-" when this run did not measure it (nan)."""
    return fmt.format(value) if value == value else "-"


def render(results: dict[str, typing.Any]) -> str:
    m, a = results["machine"], results["args"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
        f"openstack-placement {m['openstack_placement']}, {results.get('postgresql', 'PostgreSQL')}, "
        f"gunicorn {m['gunicorn']} (sync workers), psycopg2 {m['psycopg2-binary']}, SQLAlchemy {m['SQLAlchemy']}; "
        f"{m['date']}.",
        "",
        f"Load average (1, 5, 15 min) before: {results['load_before']}, after: {results['load_after']}; "
        f"the whole bench took {results.get('wall_s', 0) / 60:.0f} min.",
        "",
        f"Fleet: {a['nodes']} nodes, each a pmem-placement Agent, {a['threads']} cycles at a time; "
        f"{a['intervals']} intervals of 60 s compressed {a['scale']:g} times ({60 / a['scale']:g} s), so the fleet "
        f"offers Placement the load of {a['nodes'] * a['scale']:,.0f} nodes at a 60 s interval; a verification read "
        f"every 600 s per node (modelled: state file dropped). " + (
            f"The steady intervals are then run again with allocation churn: {a['churn'] * 100:g}% of the nodes get "
            f"an allocation change per interval (a scheduler allocating or freeing an instance with a PMEM "
            f"namespace); the CPU, latency and capacity columns are from the steady run without it."
            if churned(results) else "This run had no allocation churn (\"-\": not measured)."),
        "",
        "| Placement set-up | first sync of the fleet, s | requests/node/interval: steady / with verification / "
        "with churn (the cycle after a change) | Placement CPU / request wall ms per node-cycle | database CPU ms/node-cycle "
        "| steady cycle p50 / p99, ms | 409s / retries / failed cycles / 5xx "
        "| steady phase, s (schedule) | node-cycles served per 60 s (offered) "
        "| nodes at 60 s: per worker (whole set-up), bound |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results["setups"]:
        d = r["derived"]
        db = f"{d['db_ms']:.2f}" if "PostgreSQL" in r["setup"] else "(in Placement)"
        behind = " **behind**" if d["behind"] else ""
        lines.append(
            f"| {r['setup']} | {d['first_sync_s']:.1f} | {d['req_steady']:g} / {d['req_with_verify']:.2f} / "
            f"{_f(d['req_with_churn'])} ({_f(d['req_after_alloc'])}) | {d['cpu_ms']:.2f} / {_f(d['busy_ms'])} | {db} "
            f"| {d['p50_ms']:.1f} / {d['p99_ms']:.1f} "
            f"| {d['conflicts']} / {d['retries']} / {d['failed']} / {d['errors_5xx']} "
            f"| {d['steady_s']:.0f} ({d['planned_s']:.0f}){behind} | {_n(d['served_60s'])} ({_n(d['offered_60s'])}) "
            f"| {_n(d['nodes_per_worker_60s'])} ({_n(d['capacity_60s'])}), {BASIS[d['capacity_basis']]} |")
    lines += [
        "",
        "Against nova-compute's own report-client traffic for the same idle nodes (periodic update every 60 s, "
        "association refresh every 300 s):",
        "",
        "| Placement set-up | nova requests/node/interval | nova Placement + database CPU ms/node-interval "
        "| pmem-placement / nova, requests | pmem-placement / nova, CPU "
        "| nova requests/node/interval with the :pmem child | everything added / nova, requests "
        "| everything added / nova, CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results["setups"]:
        d = r["derived"]
        lines.append(f"| {r['setup']} | {d['nova_req']:.2f} | {d['nova_cpu_ms'] + d['nova_db_ms']:.2f} "
                     f"| {d['ratio_req']:.2f} | {d['ratio_cpu']:.2f} | {d.get('nova_child_req', float('nan')):.2f} "
                     f"| {d.get('total_ratio_req', float('nan')):.2f} | {d.get('total_ratio_cpu', float('nan')):.2f} |")
    return "\n".join(lines + ["", reading(results)])


def churned(results: dict[str, typing.Any]) -> bool:
    return bool(results["args"].get("churn")) and all("churn" in r for r in results["setups"])


def _span(values: list[float], fmt: str) -> str:
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return low if low == high else f"{low} to {high}"


def reading(results: dict[str, typing.Any]) -> str:
    """The paragraph that reads the table, from the same figures."""
    rows = [(r["setup"], r["derived"]) for r in results["setups"]]
    kept = [name for name, d in rows if not d["behind"]]
    behind = [f"{name} ({d['steady_s']:.0f} s for {d['planned_s']:.0f} s)" for name, d in rows if d["behind"]]
    steady = sorted({f"{d['req_steady']:g}" for _, d in rows})
    one = " request" if steady == ["1"] else " requests"
    verify = _span([d["req_with_verify"] for _, d in rows], "{:.2f}")
    after = _span([d["req_after_alloc"] for _, d in rows], "{:.1f}") if churned(results) else ""
    first = _span([d["first_sync_req_per_node"] for _, d in rows], "{:.0f}")
    conflicts = sum(d["conflicts"] for _, d in rows)
    retries = sum(d["retries"] for _, d in rows)
    failed = sum(d["failed"] for _, d in rows)
    changes = sum(d["churn_changes"] for _, d in rows)
    client = max(d["client_cpu_ms"] for _, d in rows)
    if not behind:
        schedule = "Every set-up kept to its schedule. "
    else:
        schedule = (f"Kept to the schedule: {', '.join(kept) or 'none'}. Fell behind it: {'; '.join(behind)}: "
                    f"served fewer node-cycles than the fleet offered, so the served rate is the set-up's measured "
                    f"ceiling on this machine, and its latencies are mostly queueing. ")
    parts = [
        f"**Reading this run** (load average {results['load_before']} before, {results['load_after']} after, on "
        f"{results['machine']['cores']} cores). " + schedule +
        f"A steady cycle is {' or '.join(steady)}{one}, {verify} per node per interval with the "
        f"verification reads, " + (f"{after} in the cycle after an allocation change, " if after else "")
        + f"and a first sync {first} requests per node. "
        + (f"The scheduler changed allocations {changes} times; " if after else "No allocation changed; ")
        + f"the server answered {conflicts} requests with 409, the agents retried {retries} times"
        + (" (an allocation landing between two of their reads)" if retries else "")
        + f", and {failed} cycles failed.",
        f"The bench process itself (all agents, the scheduler threads, the churn) spent up to {client:.1f} ms of CPU "
        f"per node-cycle on the same cores, so on a small machine the servers' figures are pessimistic.",
    ]
    return " ".join(parts)


def readme_sentence(results: dict[str, typing.Any]) -> str:
    """The README's fleet sentence, from the same figures."""
    rows = {r["workers"]: r["derived"] for r in results["setups"] if "PostgreSQL" in r["setup"]}
    if not rows:
        return ""
    workers = max(rows)
    d = rows[workers]
    return (f"`bash tools/bench.sh --production` runs a fleet of {results['args']['nodes']} overlapping agents "
            f"(the load of {d['offered_60s']:,.0f} nodes at a 60 s interval"
            f"{', with allocation churn' if churned(results) else ''}) against "
            f"Placement under gunicorn with {workers} worker{'s' if workers > 1 else ''} on PostgreSQL: "
            f"{d['req_steady']:g} request per node per interval ({d['req_with_verify']:.1f} with the verification "
            f"reads), {d['conflicts']} conflicts and {d['failed']} failed cycles, about "
            f"{d['nodes_per_worker_60s']:,.0f} nodes per Placement worker at a 60 s interval on that machine "
            f"({BASIS[d['capacity_basis']]}), and {d['ratio_req']:.2f} times the requests nova-compute itself "
            f"sends ({d.get('total_ratio_req', float('nan')):.2f} with nova's own reads of the `:pmem` child)")


def replace_between(path: pathlib.Path, begin: str, end: str, text: str, sep: str = "\n") -> bool:
    content = path.read_text()
    if begin not in content or end not in content:
        return False
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}{sep}{text}{sep}{end}{tail}")
    return True


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _worker_counts(text: str) -> list[int]:
    try:
        counts = [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"a comma-separated list of worker counts, not {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"worker counts must be 1 or more, not {text!r}")
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--nodes", type=_positive_int, default=200, help="simulated compute nodes (200)")
    parser.add_argument("--scale", type=_positive_float, default=20,
                        help="time compression: 60 s become 60/scale s (20)")
    parser.add_argument("--intervals", type=_positive_int, default=10,
                        help="steady intervals per node (10: one verification)")
    parser.add_argument("--threads", type=_positive_int, default=32, help="agent cycles running at the same time (32)")
    parser.add_argument("--workers", type=_worker_counts, default=[1, 4], help="gunicorn worker counts to measure (1,4)")
    parser.add_argument("--churn", type=_share, default=0.05,
                        help="share of the nodes whose allocations change per interval (0.05)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip today's sqlite set-up")
    parser.add_argument("--docs", action="store_true",
                        help=f"rewrite the fleet section of docs/{DOCS.name} and the README's fleet sentence")
    parser.add_argument("--no-docs", dest="docs", action="store_false", help="do not (the default)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--from-json", metavar="FILE", help="measure nothing: render the figures of an earlier run")
    parser.add_argument("--output", default=str(HERE / "results" / "production.json"))
    return parser.parse_args(argv)


class Cleanup:
    """Stops every server and deletes every directory the bench made, once, whatever happens:
    idempotent, and deaf to further Ctrl-C or SIGTERM while it runs."""

    def __init__(self) -> None:
        self.actions: list[typing.Callable[[], None]] = []
        self.running = False

    def add(self, action: typing.Callable[[], None]) -> None:
        self.actions.append(action)

    def __call__(self) -> None:
        self.running = True
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.actions:
                action = self.actions.pop()
                try:
                    action()
                except Exception as exc:  # keep cleaning the rest
                    print(f"cleanup: {exc}", file=sys.stderr)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.running = False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def interrupted(signum: int, frame: typing.Any) -> None:
        if fleet.RUNNING.is_set():
            fleet.STOP.set()  # the scheduler stops at its next step
        else:
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):  # stop servers and delete data on Ctrl-C and kill too
        signal.signal(signum, interrupted)
    if args.from_json:
        results = json.loads(pathlib.Path(args.from_json).read_text())
        return report(results, args)
    for path in servers.sweep():
        print(f"removed {path}, left by a bench that was killed", flush=True)
    started = time.monotonic()
    results: dict[str, typing.Any] = {"machine": machine(), "args": vars(args), "load_before": load(), "setups": []}
    cleanup = Cleanup()
    try:
        work = pathlib.Path(tempfile.mkdtemp(prefix="pmem-placement-fleet-"))
        cleanup.add(lambda: shutil.rmtree(work, ignore_errors=True))
        servers.own(work)
        pg = servers.PostgreSQL()  # installs PostgreSQL first when missing: fail early
        cleanup.add(pg.stop)
        pg.start()
        results["postgresql"] = pg.version.replace("postgres (PostgreSQL)", "PostgreSQL")
        setups: list[typing.Callable[[], Setup]] = [] if args.no_sqlite else [lambda: SqliteSetup(work)]
        setups += [lambda w=w: GunicornSetup(pg, w, work) for w in args.workers]
        for index, make in enumerate(setups):
            setup = make()
            cleanup.add(setup.close)
            (work / f"nodes-{index}").mkdir()
            results["setups"].append(run_fleet(setup, work / f"nodes-{index}", args))
            cleanup.actions.remove(setup.close)
            setup.close()
    finally:
        cleanup()
    results["load_after"] = load()
    results["wall_s"] = time.monotonic() - started
    return report(results, args)


def report(results: dict[str, typing.Any], args: argparse.Namespace) -> int:
    cores = int(results["machine"]["cores"])
    results["args"].setdefault("churn", 0.0)
    for r in results["setups"]:
        r["derived"] = derive(r, results["args"], cores)
    table = render(results)
    sentence = readme_sentence(results)
    print("\n" + table)
    print(f"\nREADME: {sentence}")
    out = pathlib.Path(args.output)
    if args.from_json and out.resolve() == pathlib.Path(args.from_json).resolve():
        out = out.with_suffix(".rendered.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nJSON: {out}")
    if args.docs:
        print(f"{DOCS} rewritten between its markers" if replace_between(DOCS, BEGIN, END, table)
              else f"{DOCS} has no {BEGIN} marker: paste the table above")
        if sentence:
            print(f"{README} rewritten between its markers" if replace_between(README, README_BEGIN, README_END,
                                                                                sentence, sep="")
                  else f"{README} has no {README_BEGIN} marker: paste the sentence above")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped, data deleted", file=sys.stderr)
        sys.exit(130)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        sys.exit(1)
