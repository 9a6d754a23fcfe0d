"""pmem-placement benchmarks: requests per reconcile, wall and CPU time, memory, fleet scale.

Starts a real openstack-placement in its own process (bench/placement_server.py), which counts
and times every request at the server. Prints a table and writes the figures as JSON. Figures
are medians over several runs; comparisons are ratios measured side by side, run by run.

    bash tools/bench.sh [--quick] [--output FILE]
"""

import argparse
import contextlib
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing
import uuid

import requests

from pmem_placement.cmd import demo
from pmem_placement.embedded import TOKEN
from pmem_placement.placement.client import Client
from pmem_placement.reconcile import HostSpec
from pmem_placement.reconcile import Reconciler
from pmem_placement.state import StateStore

HERE = pathlib.Path(__file__).resolve().parent
TARGETS = {
    "first_sync_requests": 10,
    "steady_requests": 5,
    "agent_steady_requests": 1,
    "remap_requests": 6,
    "wall_ratio_vs_openstack_cli": 0.2,
    "agent_cpu_ms_per_cycle": 5.0,
    "agent_rss_mb": 80.0,
}


class Placement:
    """bench/placement_server.py in a subprocess."""

    def __init__(self, data_dir: str) -> None:
        self.proc = subprocess.Popen([sys.executable, str(HERE / "placement_server.py"), data_dir],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise RuntimeError("bench/placement_server.py did not start (see its output above)")
        self.http = requests.Session()

    def stats(self) -> dict[str, typing.Any]:
        return dict(self.http.get(f"{self.url}/__bench__/stats").json())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@contextlib.contextmanager
def counted(placement: Placement) -> typing.Iterator[dict[str, typing.Any]]:
    """Requests and server service time spent inside the block."""
    result: dict[str, typing.Any] = {}
    before = placement.stats()
    yield result
    after = placement.stats()
    result["requests"] = after["requests"] - before["requests"]
    result["service_seconds"] = after["service_seconds"] - before["service_seconds"]


def admin_client(url: str) -> Client:
    from keystoneauth1 import adapter
    from keystoneauth1 import session
    from keystoneauth1 import token_endpoint

    return Client(adapter.Adapter(session.Session(auth=token_endpoint.Token(url, TOKEN)), service_type="placement"))


def ndctl_json(names: list[str]) -> str:
    """ndctl list output for devdax namespaces with these names, shaped like real ndctl v81."""
    sample = json.loads(demo.ndctl_sample().read_text())
    template = next(r for r in sample if r.get("name") == "ns_small")
    records = []
    for i, name in enumerate(names):
        record = json.loads(json.dumps(template))
        record.update(dev=f"namespace{i // 64}.{i % 64}", name=name)
        record["daxregion"]["devices"][0]["chardev"] = f"dax{i // 64}.{i % 64}"
        records.append(record)
    return json.dumps(records)


class Host:
    """A compute node: its provider in Placement and its pmem-placement configuration."""

    def __init__(self, work: pathlib.Path, placement: Placement, admin: Client, names: list[str], mapping: str) -> None:
        self.name = f"bench-{uuid.uuid4().hex[:10]}"
        self.dir = work / self.name
        self.dir.mkdir()
        self.root_uuid = demo.create_compute_node(admin, self.name)
        (self.dir / "ndctl.json").write_text(ndctl_json(names))
        self.placement = placement
        self.configure(mapping)

    def configure(self, mapping: str, discovery: str = "file") -> None:
        extra = ""
        if discovery == "ndctl":
            stub = self.dir / "ndctl"
            stub.write_text(f"#!/bin/sh\nexec cat {self.dir / 'ndctl.json'}\n")
            stub.chmod(0o755)
            extra = f"ndctl_path = {stub}\n"
        (self.dir / "pmem-placement.conf").write_text(
            f"[DEFAULT]\nhost = {self.name}\n"
            f"[pmem]\nnamespaces = {mapping}\ndiscovery = {discovery}\n"
            f"namespaces_file = {self.dir / 'ndctl.json'}\n{extra}"
            f"[agent]\nstate_dir = {self.dir / 'state'}\ninterval = 1\ninitial_jitter = 0\n"
            f"[placement]\nauth_type = admin_token\nendpoint = {self.placement.url}\ntoken = {TOKEN}\n")

    @property
    def config(self) -> str:
        return str(self.dir / "pmem-placement.conf")

    def reconcile(self) -> tuple[int, float, dict[str, typing.Any]]:
        """Run the real one-shot command; (exit status, wall seconds, server counts)."""
        with counted(self.placement) as cost:
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "pmem_placement.cmd.cli", "--config-file", self.config,
                                   "reconcile"], capture_output=True, text=True)
            wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"reconcile failed: {proc.stderr}")
        return proc.returncode, wall, cost


def mapping_for(names: list[str], labels: int, prefix: str) -> str:
    groups: list[list[str]] = [[] for _ in range(labels)]
    for i, name in enumerate(names):
        groups[i % labels].append(name)
    return ",".join(f"{prefix}{k}:{'|'.join(g)}" for k, g in enumerate(groups))


# Figures

def bench_requests(work: pathlib.Path, placement: Placement, admin: Client) -> dict[str, int]:
    host = Host(work, placement, admin, ["ns_0", "ns_1", "ns_2"], "4GB:ns_0,SMALL:ns_1|ns_2")
    first = host.reconcile()[2]["requests"]
    steady = host.reconcile()[2]["requests"]
    host.configure("4GB:ns_0|ns_1,SMALL:ns_2")
    remap = host.reconcile()[2]["requests"]
    return {"first_sync_requests": first, "steady_requests": steady, "remap_requests": remap}


def bench_growth(work: pathlib.Path, placement: Placement, admin: Client, quick: bool) -> list[dict[str, int]]:
    rows = []
    sizes = (1, 8, 64) if quick else (1, 8, 64, 512)
    for n in sizes:
        for labels in (1, 4, 32):
            if labels > n:
                continue
            names = [f"ns_{i}" for i in range(n)]
            prefix = f"G{uuid.uuid4().hex[:6].upper()}_"  # classes nobody has created yet
            mapping = mapping_for(names, labels, prefix)
            new = Host(work, placement, admin, names, mapping)
            first_new = new.reconcile()[2]["requests"]
            steady = new.reconcile()[2]["requests"]
            existing = Host(work, placement, admin, names, mapping)  # a second host: classes exist
            first_existing = existing.reconcile()[2]["requests"]
            rows.append({"namespaces": n, "labels": labels, "first_sync_new_classes": first_new,
                         "first_sync_existing_classes": first_existing, "steady": steady})
    return rows


def baseline_script(placement: Placement, host: Host) -> float:
    started = time.perf_counter()
    subprocess.run(["bash", str(HERE / "baseline-openstack-cli.sh"), placement.url, host.name],
                   check=True, capture_output=True, env={**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}"})
    return time.perf_counter() - started


def bench_wall(work: pathlib.Path, placement: Placement, admin: Client, runs: int) -> dict[str, typing.Any]:
    ours, theirs, floor, steady, ratios, floor_ratios = [], [], [], [], [], []
    mapping = "4GB:ns_0,SMALL:ns_1|ns_2"
    for _ in range(runs):
        host = Host(work, placement, admin, ["ns_0", "ns_1", "ns_2"], mapping)
        ours.append(host.reconcile()[1])
        steady.append(host.reconcile()[1])
        theirs.append(baseline_script(placement, Host(work, placement, admin, ["ns_0", "ns_1", "ns_2"], mapping)))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import keystoneauth1.session"], check=True)
        floor.append(time.perf_counter() - started)
        ratios.append(ours[-1] / theirs[-1])
        floor_ratios.append(ours[-1] / floor[-1])
    return {
        "one_shot_first_sync_seconds": statistics.median(ours),
        "one_shot_steady_seconds": statistics.median(steady),
        "openstack_cli_first_sync_seconds": statistics.median(theirs),
        "import_keystoneauth_seconds": statistics.median(floor),
        "wall_ratio_vs_openstack_cli": statistics.median(ratios),
        "wall_ratio_vs_import_floor": statistics.median(floor_ratios),
        "runs": runs,
    }


def bench_agent_cpu(work: pathlib.Path, placement: Placement, admin: Client, cycles: int) -> dict[str, float]:
    from oslo_config import cfg

    from pmem_placement import conf as conf_mod
    from pmem_placement.agent.cycle import Agent

    result = {}
    for discovery in ("file", "ndctl"):
        host = Host(work, placement, admin, ["ns_0", "ns_1", "ns_2"], "4GB:ns_0,SMALL:ns_1|ns_2")
        host.configure("4GB:ns_0,SMALL:ns_1|ns_2", discovery=discovery)
        conf = cfg.ConfigOpts()
        conf_mod.register_opts(conf)
        conf(["--config-file", host.config])
        agent = Agent(conf)
        assert agent.cycle()
        samples = []
        with counted(placement) as cost:
            for _ in range(cycles):
                started = time.thread_time()  # this thread's CPU: the agent's own work
                assert agent.cycle()
                samples.append((time.thread_time() - started) * 1000)
        assert cost["requests"] == cycles, cost
        result["agent_steady_requests"] = cost["requests"] / cycles
        result[f"cpu_ms_per_cycle_{discovery}"] = statistics.median(samples)
        result[f"cpu_ms_per_cycle_{discovery}_p95"] = sorted(samples)[int(len(samples) * 0.95) - 1]
    result["agent_cpu_ms_per_cycle"] = max(result["cpu_ms_per_cycle_file"], result["cpu_ms_per_cycle_ndctl"])
    result["cycles"] = cycles
    return result


def bench_agent_reserved(work: pathlib.Path, placement: Placement, admin: Client, cycles: int) -> dict[str, float]:
    """The agent's steady cycle while units are reserved: a remap reservation for a guest's whole
    life (a namespace moved to another class while that class's guest may hold it), then a
    configured namespace withdrawn (destroyed). Baseline: 1 request, the steady cycle."""
    from oslo_config import cfg

    from pmem_placement import conf as conf_mod
    from pmem_placement.agent.cycle import Agent

    host = Host(work, placement, admin, ["ns_0", "ns_1", "ns_2"], "4GB:ns_0,SMALL:ns_1|ns_2")

    def agent() -> Agent:
        conf = cfg.ConfigOpts()
        conf_mod.register_opts(conf)
        conf(["--config-file", host.config])
        return Agent(conf)

    def per_cycle(a: Agent, ok: bool) -> float:
        assert a.cycle() is ok  # the cycle that writes
        with counted(placement) as cost:
            for _ in range(cycles):
                assert a.cycle() is ok
        return float(cost["requests"]) / cycles

    per_cycle(agent(), True)
    child = next(p["uuid"] for p in admin.tree(host.root_uuid) if p["uuid"] != host.root_uuid)
    body = {"allocations": {child: {"resources": {"CUSTOM_PMEM_NAMESPACE_SMALL": 1}}}, "consumer_generation": None,
            "project_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "consumer_type": "OTHER"}
    placement.http.put(f"{placement.url}/allocations/{uuid.uuid4()}", json=body,
                       headers={"X-Auth-Token": TOKEN, "OpenStack-API-Version": "placement 1.39"}).raise_for_status()
    host.configure("4GB:ns_0|ns_1,SMALL:ns_2")  # ns_1 moves while SMALL's guest may hold it
    remap = per_cycle(agent(), True)
    (host.dir / "ndctl.json").write_text(ndctl_json(["ns_0", "ns_1"]))  # ns_2 destroyed, still configured
    withdrawn = per_cycle(agent(), False)
    return {"agent_steady_requests_remap_reserved": remap, "agent_steady_requests_withdrawn": withdrawn}


def _memory_kb(pid: int, field: str, path: str = "status") -> int:
    for line in pathlib.Path(f"/proc/{pid}/{path}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _ppid(pid: int) -> int | None:
    try:
        return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def bench_agent_memory(work: pathlib.Path, placement: Placement, admin: Client) -> dict[str, float]:
    host = Host(work, placement, admin, ["ns_0", "ns_1", "ns_2"], "4GB:ns_0,SMALL:ns_1|ns_2")
    proc = subprocess.Popen([sys.executable, "-m", "pmem_placement.cmd.agent", "--config-file", host.config],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        status = host.dir / "state" / "status.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if status.exists() and json.loads(status.read_text() or "{}").get("cycles", 0) >= 5:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"the agent did not run 5 cycles: {status.read_text() if status.exists() else ''}")
        worker = next(int(p.name) for p in pathlib.Path("/proc").iterdir() if p.name.isdigit()
                      and _ppid(int(p.name)) == proc.pid)
        return {
            "agent_rss_mb": _memory_kb(worker, "VmRSS") / 1024,
            "agent_master_rss_mb": _memory_kb(proc.pid, "VmRSS") / 1024,
            "agent_pss_mb_total": (_memory_kb(worker, "Pss", "smaps_rollup")
                                   + _memory_kb(proc.pid, "Pss", "smaps_rollup")) / 1024,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system, with waited children such as ndctl) of these processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


# The agent as shipped, or with its listener taken away (as on a host where events are unavailable).
AGENT = "from pmem_placement.cmd.agent import main; raise SystemExit(main())"
AGENT_WITHOUT_EVENTS = ("from pmem_placement.agent import events; "
                        "events.open_sources = lambda *a, **k: events.Sources(unavailable='the bench took it away'); "
                        + AGENT)


IDLE_INTERVAL = 300  # [agent]interval's default: an idle agent runs no cycle within the window


def bench_agent_idle(work: pathlib.Path, placement: Placement, admin: Client, seconds: float) -> dict[str, float]:
    """CPU of an idle agent (master and worker) per minute between two cycles, at the default
    interval, with its listener and without (taken away, as where events are unavailable), for
    both discoveries; the two variants in alternating order."""
    result: dict[str, float] = {"idle_seconds": seconds}
    for discovery, order in (("file", ("events", "no_events")), ("ndctl", ("no_events", "events"))):
        for name in order:
            code = AGENT if name == "events" else AGENT_WITHOUT_EVENTS
            host = Host(work, placement, admin, ["ns_0", "ns_1", "ns_2"], "4GB:ns_0,SMALL:ns_1|ns_2")
            host.configure("4GB:ns_0,SMALL:ns_1|ns_2", discovery=discovery)
            config = pathlib.Path(host.config)
            config.write_text(config.read_text().replace("interval = 1\n", f"interval = {IDLE_INTERVAL}\n"))
            proc = subprocess.Popen([sys.executable, "-c", code, "--config-file", host.config],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                status = host.dir / "state" / "status.json"
                deadline = time.monotonic() + 30
                while not (status.exists() and json.loads(status.read_text() or "{}").get("next_attempt")):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the agent did not run its first cycle: "
                                           f"{status.read_text() if status.exists() else ''}")
                    time.sleep(0.2)
                said = json.loads(status.read_text()).get("events", "")
                if said.startswith("listening") != (name == "events"):
                    raise RuntimeError(f"the agent's events are {said!r}, the bench wanted {name}")
                pids = [proc.pid] + [int(p.name) for p in pathlib.Path("/proc").iterdir()
                                     if p.name.isdigit() and _ppid(int(p.name)) == proc.pid]
                before = _cpu_s(pids)
                time.sleep(seconds)
                result[f"idle_cpu_s_per_min_{discovery}_{name}"] = (_cpu_s(pids) - before) * 60 / seconds
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        without = result[f"idle_cpu_s_per_min_{discovery}_no_events"]
        result[f"idle_cpu_ratio_{discovery}"] = (result[f"idle_cpu_s_per_min_{discovery}_events"] / without
                                                 if without else float("nan"))
    return result


def bench_fleet(work: pathlib.Path, placement: Placement, admin: Client, sizes: tuple[int, ...]) -> list[dict[str, float]]:
    from keystoneauth1 import adapter
    from keystoneauth1 import session
    from keystoneauth1 import token_endpoint

    rows = []
    for n in sizes:
        nodes = []
        for i in range(n):
            name = f"fleet{n}-{i}-{uuid.uuid4().hex[:6]}"
            demo.create_compute_node(admin, name)
            client = Client(adapter.Adapter(session.Session(auth=token_endpoint.Token(placement.url, TOKEN)),
                                            service_type="placement"))
            state_dir = work / name
            nodes.append((Reconciler(client, StateStore(str(state_dir))),
                          HostSpec(name, None, {"CUSTOM_PMEM_NAMESPACE_4GB": 1, "CUSTOM_PMEM_NAMESPACE_SMALL": 2},
                                   frozenset({"CUSTOM_PMEM_PLACEMENT_MANAGED"}))))
        with counted(placement) as first:
            for reconciler, spec in nodes:
                reconciler.run(spec, trust_cache=True)
        with counted(placement) as steady:
            started = time.perf_counter()
            for reconciler, spec in nodes:
                reconciler.run(spec, trust_cache=True)  # as the agent: trusts its generations
            wall = time.perf_counter() - started
        per_node = steady["service_seconds"] / n
        rows.append({
            "nodes": n,
            "first_sync_requests": first["requests"],
            "steady_requests_per_interval": steady["requests"],
            "steady_requests_per_node": steady["requests"] / n,
            "server_ms_per_node_per_interval": per_node * 1000,
            "nodes_per_worker_at_60s": 60 / per_node,
            "steady_round_wall_seconds": wall,
        })
    return rows


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    from importlib import metadata

    return {"cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "openstack_placement": metadata.version("openstack-placement"),
            "kernel": platform.release()}


def render(results: dict[str, typing.Any]) -> str:
    req, wall, agent = results["requests"], results["wall"], results["agent"]

    def row(name: str, value: float, target: str, ok: bool, fmt: str = "{:g}") -> str:
        verdict = ("ok" if ok else "MISSED") if target else ""
        return f"  {name:<48} {fmt.format(value):>12}  {target:<10} {verdict}".rstrip()

    t = TARGETS
    lines = [f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, Python "
             f"{results['machine']['python']}, openstack-placement {results['machine']['openstack_placement']}",
             "", "  figure" + " " * 43 + "value  target", ]
    lines += [
        row("requests, first sync (nova's host, 2 labels)", req["first_sync_requests"], f"<= {t['first_sync_requests']}",
            req["first_sync_requests"] <= t["first_sync_requests"]),
        row("requests, one-shot steady run (full read)", req["steady_requests"], f"== {t['steady_requests']}",
            req["steady_requests"] == t["steady_requests"]),
        row("requests, agent steady cycle", agent["agent_steady_requests"], "== 1", agent["agent_steady_requests"] == 1),
        row("requests, agent steady cycle, remap reserved", agent["agent_steady_requests_remap_reserved"], "== 1",
            agent["agent_steady_requests_remap_reserved"] == 1),
        row("requests, agent steady cycle, one withdrawn", agent["agent_steady_requests_withdrawn"], "== 1",
            agent["agent_steady_requests_withdrawn"] == 1),
        row("requests, one-shot remap one namespace", req["remap_requests"], f"<= {t['remap_requests']}",
            req["remap_requests"] <= t["remap_requests"]),
        row("one-shot first sync, seconds", wall["one_shot_first_sync_seconds"], "", True, "{:.3f}"),
        row("openstack CLI script first sync, seconds", wall["openstack_cli_first_sync_seconds"], "", True, "{:.3f}"),
        row("import keystoneauth1.session (floor), seconds", wall["import_keystoneauth_seconds"], "", True, "{:.3f}"),
        row("ratio one-shot / openstack CLI", wall["wall_ratio_vs_openstack_cli"], f"<= {t['wall_ratio_vs_openstack_cli']}",
            wall["wall_ratio_vs_openstack_cli"] <= t["wall_ratio_vs_openstack_cli"], "{:.3f}"),
        row("ratio one-shot / import floor", wall["wall_ratio_vs_import_floor"], "", True, "{:.2f}"),
        row("agent CPU per steady cycle, ms (file)", agent["cpu_ms_per_cycle_file"], "", True, "{:.2f}"),
        row("agent CPU per steady cycle, ms (ndctl)", agent["cpu_ms_per_cycle_ndctl"],
            f"<= {t['agent_cpu_ms_per_cycle']:g}", agent["agent_cpu_ms_per_cycle"] <= t["agent_cpu_ms_per_cycle"], "{:.2f}"),
        row("agent worker RSS, MB", agent["agent_rss_mb"], f"<= {t['agent_rss_mb']:g}",
            agent["agent_rss_mb"] <= t["agent_rss_mb"], "{:.1f}"),
        row("agent master RSS, MB", agent["agent_master_rss_mb"], "", True, "{:.1f}"),
        row("agent PSS, master + worker, MB", agent["agent_pss_mb_total"], "", True, "{:.1f}"),
    ]
    for discovery in ("file", "ndctl"):
        with_events = agent[f"idle_cpu_s_per_min_{discovery}_events"]
        without = agent[f"idle_cpu_s_per_min_{discovery}_no_events"]
        lines += [
            row(f"idle agent CPU s/min, {IDLE_INTERVAL} s interval ({discovery})", with_events, "", True, "{:.3f}"),
            row(f"  the same without its listener ({discovery})", without, "", True, "{:.3f}"),
            # the grain: two processes read twice, a clock tick each, in both variants
            row(f"  difference with - without ({discovery})", with_events - without, "<= ticks",
                with_events <= without + 8 * 60 / agent["idle_seconds"] / os.sysconf("SC_CLK_TCK"), "{:+.3f}"),
        ]
    lines += ["", "  Requests as the host grows (new classes: nobody created them yet; existing: a second host)",
              "  namespaces  labels  first sync (new)  first sync (existing)  steady"]
    lines += [f"  {r['namespaces']:>10}  {r['labels']:>6}  {r['first_sync_new_classes']:>16}  "
              f"{r['first_sync_existing_classes']:>21}  {r['steady']:>6}" for r in results["growth"]]
    lines += ["", "  Fleet: simulated compute nodes against one Placement API worker",
              "  nodes  first sync req  steady req/interval  req/node  server ms/node  nodes/worker @60s"]
    lines += [f"  {r['nodes']:>5}  {r['first_sync_requests']:>14}  {r['steady_requests_per_interval']:>19}  "
              f"{r['steady_requests_per_node']:>8g}  {r['server_ms_per_node_per_interval']:>14.2f}  "
              f"{r['nodes_per_worker_at_60s']:>17,.0f}" for r in results["fleet"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes (a smoke run)")
    parser.add_argument("--output", default=str(HERE / "results" / "latest.json"), help="where to write JSON")
    args = parser.parse_args()
    if shutil.which("openstack", path=f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}") is None:
        print("bench needs the openstack CLI: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pmem-placement-bench-") as tmp:
        work = pathlib.Path(tmp)
        (work / "placement").mkdir()
        placement = Placement(str(work / "placement"))
        try:
            admin = admin_client(placement.url)
            results: dict[str, typing.Any] = {"machine": machine(), "targets": TARGETS}
            results["requests"] = bench_requests(work, placement, admin)
            results["growth"] = bench_growth(work, placement, admin, args.quick)
            results["wall"] = bench_wall(work, placement, admin, runs=3 if args.quick else 7)
            results["agent"] = {**bench_agent_cpu(work, placement, admin, cycles=100),
                                **bench_agent_reserved(work, placement, admin, cycles=20),
                                **bench_agent_memory(work, placement, admin),
                                **bench_agent_idle(work, placement, admin, seconds=20 if args.quick else 60)}
            results["fleet"] = bench_fleet(work, placement, admin, (20,) if args.quick else (100, 1000))
        finally:
            placement.close()
    print(render(results))
    out = pathlib.Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
