"""Fleet figures on a production-shaped Placement: PostgreSQL and gunicorn workers, overlapping agents.

For each set-up (today's bench Placement: sqlite behind one single-threaded wsgiref server; the
real Placement WSGI app under gunicorn with 1 and with 4 worker processes on PostgreSQL), a fleet
of simulated compute nodes (bench/fleet.py) runs, each node a real pmem-placement Agent:

1. first sync of the whole fleet, every agent starting at once (``--threads`` at a time);
2. steady state: ``--intervals`` agent intervals per node on the agent's schedule, compressed
   ``--scale`` times, phases spread over the interval, with the verification reads;
3. nova's report-client pattern on the same nodes for 5 periodic updates (one association refresh),
   before the first sync (nova alone) and at the end (nova also tracking the :pmem child).

Figures are printed; with ``--docs`` (what ``tools/bench.sh --production`` does) the fleet section
of docs/benchmarks.md between its markers is rewritten. JSON goes to bench/results/production.json.

    bash tools/bench.sh --production [--nodes N] [--scale S] [--no-docs]
"""

import argparse
import contextlib
import datetime
import json
import os
import pathlib
import platform
import random
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


class Setup(typing.Protocol):
    label: str
    url: str

    def placement_cpu(self) -> float: ...
    def db_cpu(self) -> float: ...
    def answers(self) -> dict[str, int]: ...


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

    def answers(self) -> dict[str, int]:
        return dict(self.server.stats().get("by_status", {}))

    def close(self) -> None:
        self.server.close()


class GunicornSetup:
    def __init__(self, pg: servers.PostgreSQL, workers: int, work: pathlib.Path) -> None:
        self.label = f"PostgreSQL, gunicorn, {workers} worker{'s' if workers > 1 else ''}"
        self.workers = workers
        self.pg = pg
        self.server = servers.Gunicorn(pg.database(f"placement{workers}"), workers, work)
        self.server.db_sync()
        self.server.start()
        self.url = self.server.url

    def placement_cpu(self) -> float:
        return self.server.cpu_seconds()

    def db_cpu(self) -> float:
        return self.pg.cpu_seconds()

    def answers(self) -> dict[str, int]:
        return self.server.answers()

    def close(self) -> None:
        self.server.stop()


def idle_rates(setup: typing.Any, seconds: float = 3.0) -> tuple[float, float]:
    """CPU seconds per second the servers spend with no request (gunicorn's and PostgreSQL's timers)."""
    cpu, db = setup.placement_cpu(), setup.db_cpu()
    time.sleep(seconds)
    return (setup.placement_cpu() - cpu) / seconds, (setup.db_cpu() - db) / seconds


@contextlib.contextmanager
def measured(setup: typing.Any, idle: tuple[float, float]) -> typing.Iterator[dict[str, float]]:
    """Server and database CPU spent inside the block (idle share removed), requests by status."""
    out: dict[str, float] = {}
    cpu, db, answers = setup.placement_cpu(), setup.db_cpu(), setup.answers()
    client, started = time.process_time(), time.monotonic()
    yield out
    wall = time.monotonic() - started
    after = setup.answers()
    out["client_cpu_s"] = time.process_time() - client
    out["placement_cpu_raw_s"] = setup.placement_cpu() - cpu
    out["db_cpu_raw_s"] = setup.db_cpu() - db
    out["placement_cpu_s"] = max(0.0, out["placement_cpu_raw_s"] - idle[0] * wall)
    out["db_cpu_s"] = max(0.0, out["db_cpu_raw_s"] - idle[1] * wall)
    out["server_requests"] = sum(after.values()) - sum(answers.values())
    out["conflicts_409"] = after.get("409", 0) - answers.get("409", 0)
    out["errors_5xx"] = sum(v - answers.get(k, 0) for k, v in after.items() if k.startswith("5"))


def run_fleet(setup: typing.Any, work: pathlib.Path, args: argparse.Namespace) -> dict[str, typing.Any]:
    print(f"\n== {setup.label}: {args.nodes} nodes", flush=True)
    rng = random.Random(args.seed)
    admin = admin_client(setup.url)
    sample = ndctl_json(["ns_0", "ns_1", "ns_2"])
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

    with measured(setup, idle) as cost:
        records, wall = driver.run("agent", cycles=args.intervals, jitter=True, timeout=timeout)
    steady = {**fleet.summary(records), **cost, "wall_s": wall}
    result["steady"] = steady
    for phase in ("first_sync", "steady"):
        sent, seen = result[phase]["requests"], result[phase]["server_requests"]
        if sent != seen:
            print(f"   WARNING: {phase}: the agents counted {sent} requests, Placement answered {seen}", flush=True)
    print(f"   steady: {steady['cycles']} cycles in {wall:.1f} s, {steady['requests']} requests", flush=True)
    if steady.get("verify", {}).get("requests_per_cycle", 0) <= 1:
        print("   WARNING: dropping the state file did not force a full read: verification is not modelled",
              flush=True)

    for node in nodes:
        node.nova_learns_tree()
    with measured(setup, idle) as cost:  # nova once it knows the :pmem child
        records, wall = driver.run("nova", cycles=5, jitter=True, timeout=timeout)
    result["nova_with_child"] = {**fleet.summary(records), **cost, "wall_s": wall}
    print(f"   nova with the :pmem child: {wall:.1f} s", flush=True)
    return result


def derive(r: dict[str, typing.Any]) -> dict[str, float]:
    s, n = r["steady"], r["nova"]
    cycles = s["cycles"]
    cpu = s["placement_cpu_s"] / cycles
    db = s["db_cpu_s"] / cycles
    nova_cpu = n["placement_cpu_s"] / n["cycles"]
    nova_db = n["db_cpu_s"] / n["cycles"]
    nova_req = n["requests"] / n["cycles"]
    with_verify = s["requests"] / cycles
    out = {
        "req_steady": s.get("steady", {}).get("requests_per_cycle", float("nan")),
        "req_with_verify": with_verify,
        "cpu_ms": cpu * 1000,
        "db_ms": db * 1000,
        "p50_ms": s.get("steady", {}).get("p50_ms", float("nan")),
        "p99_ms": s.get("steady", {}).get("p99_ms", float("nan")),
        "verify_p50_ms": s.get("verify", {}).get("p50_ms", float("nan")),
        "conflicts": r["first_sync"]["conflicts_409"] + s["conflicts_409"],
        "failed": r["first_sync"]["failed_cycles"] + s["failed_cycles"],
        "errors_5xx": r["first_sync"]["errors_5xx"] + s["errors_5xx"],
        "first_sync_s": r["first_sync"]["wall_s"],
        "first_sync_req_per_node": r["first_sync"]["requests"] / r["nodes"],
        "nodes_per_worker_60s": 60 / cpu if cpu else float("inf"),
        "nodes_per_core_60s": 60 / (cpu + db) if cpu + db else float("inf"),
        "agent_client_cpu_ms": s["client_cpu_s"] / cycles * 1000,
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


def render(results: dict[str, typing.Any]) -> str:
    m, a = results["machine"], results["args"]
    planned = a["intervals"] * 60 / a["scale"]
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
        f"{a['intervals']} intervals of 60 s compressed {a['scale']:g} times ({60 / a['scale']:g} s); "
        f"a verification read every 600 s per node (modelled: state file dropped).",
        "",
        "| Placement set-up | first sync of the fleet, s | requests/node/interval, steady | with verification "
        "| Placement CPU ms/node-cycle | database CPU ms/node-cycle | steady cycle p50 / p99, ms "
        "| 409 conflicts / failed cycles | steady phase, s (planned) | nodes per Placement worker at 60 s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results["setups"]:
        d = r["derived"]
        db = f"{d['db_ms']:.2f}" if r["workers"] and "PostgreSQL" in r["setup"] else "(in Placement)"
        lines.append(
            f"| {r['setup']} | {d['first_sync_s']:.1f} | {d['req_steady']:g} | {d['req_with_verify']:.2f} "
            f"| {d['cpu_ms']:.2f} | {db} | {d['p50_ms']:.1f} / {d['p99_ms']:.1f} "
            f"| {d['conflicts']} / {d['failed']} | {r['steady']['wall_s']:.0f} ({planned:.0f}) "
            f"| {d['nodes_per_worker_60s']:,.0f} |")
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
    return "\n".join(lines)


def readme_sentence(results: dict[str, typing.Any]) -> str:
    """The README's fleet figures, for pasting after a re-run."""
    rows = {r["workers"]: r["derived"] for r in results["setups"] if "PostgreSQL" in r["setup"]}
    workers = 4 if 4 in rows else next(iter(rows))
    d = rows[workers]
    return (f"a fleet of {results['args']['nodes']} overlapping agents against Placement under gunicorn with "
            f"{workers} workers on PostgreSQL: {d['req_steady']:g} request per node per interval "
            f"({d['req_with_verify']:.1f} with the verification reads), {d['conflicts']} conflicts, about "
            f"{round(d['nodes_per_worker_60s'], -2):,.0f} nodes per Placement worker at a 60 s interval, and "
            f"{d['ratio_req']:.2f} times the requests nova-compute itself sends "
            f"({d.get('total_ratio_req', float('nan')):.2f} with nova's own reads of the `:pmem` child)")


def write_docs(table: str) -> bool:
    text = DOCS.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOCS.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=200, help="simulated compute nodes (200)")
    parser.add_argument("--scale", type=float, default=20, help="time compression: 60 s become 60/scale s (20)")
    parser.add_argument("--intervals", type=int, default=10, help="steady intervals per node (10: one verification)")
    parser.add_argument("--threads", type=int, default=32, help="agent cycles running at the same time (32)")
    parser.add_argument("--workers", default="1,4", help="gunicorn worker counts to measure (1,4)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip today's sqlite set-up")
    parser.add_argument("--docs", action="store_true", help=f"rewrite the fleet table in {DOCS.name}")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--from-json", metavar="FILE", help="measure nothing: render the figures of an earlier run")
    parser.add_argument("--output", default=str(HERE / "results" / "production.json"))
    args = parser.parse_args()

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
    started = time.monotonic()
    results = {"machine": machine(), "args": vars(args), "load_before": load(), "setups": []}
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="pmem-placement-fleet-") as tmp:
        work = pathlib.Path(tmp)
        pg = servers.PostgreSQL()  # installs PostgreSQL first when missing: fail early
        stack.callback(pg.stop)
        pg.start()
        results["postgresql"] = pg.version.replace("postgres (PostgreSQL)", "PostgreSQL")
        setups: list[typing.Callable[[], typing.Any]] = [] if args.no_sqlite else [lambda: SqliteSetup(work)]
        setups += [lambda w=int(w): GunicornSetup(pg, w, work) for w in args.workers.split(",")]
        for index, make in enumerate(setups):
            setup = make()
            try:
                (work / f"nodes-{index}").mkdir()
                results["setups"].append(run_fleet(setup, work / f"nodes-{index}", args))
            finally:
                setup.close()
    results["load_after"] = load()
    results["wall_s"] = time.monotonic() - started
    return report(results, args)


def report(results: dict[str, typing.Any], args: argparse.Namespace) -> int:
    for r in results["setups"]:
        r["derived"] = derive(r)
    table = render(results)
    print("\n" + table)
    print(f"\nREADME (Request economy): ... {readme_sentence(results)} ...")
    out = pathlib.Path(args.output)
    if args.from_json and out.resolve() == pathlib.Path(args.from_json).resolve():
        out = out.with_suffix(".rendered.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nJSON: {out}")
    if args.docs:
        print(f"{DOCS} rewritten between its markers" if write_docs(table)
              else f"{DOCS} has no {BEGIN} marker: paste the table above")
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
