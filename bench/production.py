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

import figures  # noqa: E402
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
    fleet.make_nodes(work, setup.url, admin, 1, sample, prefix="warmup")[0].agent_cycle()
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
        print("   WARNING: no agent verified on its own within the steady phase (verify_interval on the agents' "
              "schedule)", flush=True)

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
    parser.add_argument("--scale", type=_positive_float, default=100,
                        help="time compression: the agent's 300 s interval becomes 300/scale s (100: 3 s)")
    parser.add_argument("--intervals", type=_positive_int, default=12,
                        help="steady intervals per node (12 of 300 s: two of the agents' own verifications, "
                        "every 1800 s)")
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
        r["derived"] = figures.derive(r, results["args"], cores)
    table = figures.render(results)
    sentence = figures.readme_sentence(results)
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
