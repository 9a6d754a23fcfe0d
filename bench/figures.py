"""The fleet bench's figures from its measurements: pure (no I/O, no clock), for bench/production.py.

``derive`` turns one set-up's measured phases into the figures; ``render`` writes the tables and
the paragraph that reads them, ``readme_sentence`` the README's fleet sentence, all from the
same figures, so that a re-run rewrites them consistently.
"""

import typing

import fleet

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
    # Capacity in nodes at the agent's interval: a node needs one node-cycle per interval.
    k = fleet.INTERVAL / 60
    served = cycles * 60 / s["wall_s"] * k  # nodes at the interval this set-up actually served
    # A sync worker is occupied for each request's wall time (its CPU, the database round trips,
    # waiting for a core), never less than its CPU; the machine's cores bound all workers and the
    # database together; a set-up that fell behind measured its own ceiling.
    held = max(cpu, busy) if busy == busy else cpu
    per_worker = fleet.INTERVAL / held if held > 0 else float("inf")
    bounds = {"workers": r["workers"] * per_worker,
              "cores": cores * fleet.INTERVAL / (cpu + db) if cpu + db else float("inf")}
    if behind:
        bounds["measured"] = served
    basis = min(bounds, key=lambda k: bounds[k])
    ch = r.get("churn", {})
    phases = [k for k in ("first_sync", "steady", "churn") if k in r]
    scheduler = ch.get("scheduler", {})
    per_minute = 60 / fleet.INTERVAL  # agent cycles per minute
    nova_per_minute = 60 / fleet.NOVA_PERIODIC
    out = {
        "agent_req_per_min": with_verify * per_minute,
        "nova_req_per_min": nova_req * nova_per_minute,
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
        # the *_60s keys are nodes at the agent's interval (fleet.INTERVAL), as their texts say
        "cpu_bound_per_worker_60s": fleet.INTERVAL / cpu if cpu else float("inf"),
        "wall_bound_per_worker_60s": fleet.INTERVAL / busy if busy and busy == busy else float("inf"),
        "capacity_60s": bounds[basis],
        "capacity_basis": basis,
        "nodes_per_worker_60s": bounds[basis] / r["workers"],
        "nova_req": nova_req,
        "nova_cpu_ms": nova_cpu * 1000,
        "nova_db_ms": nova_db * 1000,
        "ratio_req": with_verify * per_minute / (nova_req * nova_per_minute),
        "ratio_cpu": ((cpu + db) * per_minute / ((nova_cpu + nova_db) * nova_per_minute)
                      if nova_cpu + nova_db else float("nan")),
    }
    # With churn: the agent's requests per node-minute when allocations change (its cycles after a
    # change read again what moved). nova's side is its idle pattern: with instances it also reads
    # each one's allocations, so the ratios with churn are upper bounds.
    churn_per_min = out["req_with_churn"] * per_minute
    out["agent_req_per_min_churn"] = churn_per_min
    out["ratio_req_churn"] = churn_per_min / (nova_req * nova_per_minute)
    c = r.get("nova_with_child")
    if c:
        child_req = c["requests"] / c["cycles"]
        child_cpu = (c["placement_cpu_s"] + c["db_cpu_s"]) / c["cycles"]
        out["nova_child_req"] = child_req
        # everything added per minute (the agent, and nova's own reads of the :pmem child) over nova alone
        added_by_child = (child_req - nova_req) * nova_per_minute
        out["total_ratio_req"] = (with_verify * per_minute + added_by_child) / (nova_req * nova_per_minute)
        out["total_ratio_req_churn"] = (churn_per_min + added_by_child) / (nova_req * nova_per_minute)
        out["total_ratio_cpu"] = (((cpu + db) * per_minute + (child_cpu - nova_cpu - nova_db) * nova_per_minute)
                                  / ((nova_cpu + nova_db) * nova_per_minute))
    return out


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
        f"{a['intervals']} intervals of {fleet.INTERVAL:g} s (the agent's default) compressed {a['scale']:g} times "
        f"({fleet.INTERVAL / a['scale']:g} s), so the fleet offers Placement the load of "
        f"{a['nodes'] * a['scale']:,.0f} nodes at a {fleet.INTERVAL:g} s interval; each agent's own verification "
        f"every {fleet.VERIFY_INTERVAL:g} s of the agent's own schedule (about every 6th cycle). " + (
            f"The steady intervals are then run again with allocation churn: {a['churn'] * 100:g}% of the nodes get "
            f"an allocation change per interval (a scheduler allocating or freeing an instance with a PMEM "
            f"namespace); the CPU, latency and capacity columns are from the steady run without it."
            if churned(results) else "This run had no allocation churn (\"-\": not measured)."),
        "",
        "| Placement set-up | first sync of the fleet, s | requests/node/interval: steady / with verification / "
        "with churn (the cycle after a change) | Placement CPU / request wall ms per node-cycle | database CPU ms/node-cycle "
        "| steady cycle p50 / p99, ms | 409s / retries / failed cycles / 5xx "
        f"| steady phase, s (schedule), cycle start after its due time | nodes served at {fleet.INTERVAL:g} s (offered) "
        f"| nodes at {fleet.INTERVAL:g} s: per worker (whole set-up), bound |",
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
            f"| {d['steady_s']:.0f} ({d['planned_s']:.0f}){behind}, late p99 {_f(d['late_p99_ms'], '{:.0f}')} ms | {_n(d['served_60s'])} ({_n(d['offered_60s'])}) "
            f"| {_n(d['nodes_per_worker_60s'])} ({_n(d['capacity_60s'])}), {BASIS[d['capacity_basis']]} |")
    lines += [
        "",
        "Against nova-compute's own report-client traffic for the same idle nodes (periodic update every 60 s, "
        "association refresh every 300 s), per node-minute (the agent every "
        f"{fleet.INTERVAL:g} s, nova every {fleet.NOVA_PERIODIC:g} s):",
        "",
        "| Placement set-up | pmem-placement requests/node-minute | nova requests/node-minute "
        "| nova Placement + database CPU ms/node-interval "
        "| pmem-placement / nova, requests | pmem-placement / nova, CPU "
        "| nova requests/node/interval with the :pmem child | everything added / nova, requests "
        "| everything added / nova, CPU | with churn: pmem-placement requests/node-minute, / nova, "
        "everything added / nova |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    nan = float("nan")
    for r in results["setups"]:
        d = r["derived"]
        lines.append(f"| {r['setup']} | {d['agent_req_per_min']:.2f} | {d['nova_req_per_min']:.2f} "
                     f"| {d['nova_cpu_ms'] + d['nova_db_ms']:.2f} "
                     f"| {d['ratio_req']:.2f} | {d['ratio_cpu']:.2f} | {d.get('nova_child_req', nan):.2f} "
                     f"| {d.get('total_ratio_req', nan):.2f} | {d.get('total_ratio_cpu', nan):.2f} "
                     f"| {_f(d.get('agent_req_per_min_churn', nan))} / {_f(d.get('ratio_req_churn', nan))} / "
                     f"{_f(d.get('total_ratio_req_churn', nan))} |")
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
            f"(the load of {d['offered_60s']:,.0f} nodes at a {fleet.INTERVAL:g} s interval"
            f"{', with allocation churn' if churned(results) else ''}) against "
            f"Placement under gunicorn with {workers} worker{'s' if workers > 1 else ''} on PostgreSQL: "
            f"{d['req_steady']:g} request per node per interval ({d['req_with_verify']:.2f} with the verification "
            f"reads: {d['agent_req_per_min']:.2f} per node-minute), {d['conflicts']} conflicts and {d['failed']} failed "
            f"cycles, about {d['nodes_per_worker_60s']:,.0f} nodes per Placement worker at a {fleet.INTERVAL:g} s "
            f"interval on that machine "
            f"({BASIS[d['capacity_basis']]}), and {d['ratio_req']:.2f} times the requests nova-compute itself "
            f"sends ({d.get('total_ratio_req', float('nan')):.2f} with nova's own reads of the `:pmem` child"
            + (f"; {d['agent_req_per_min_churn']:.2f} per node-minute and {d['total_ratio_req_churn']:.2f} with "
               f"allocation churn" if churned(results) and "total_ratio_req_churn" in d else "") + ")")
