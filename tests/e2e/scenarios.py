"""The end-to-end scenarios, in order: each builds on the host the previous ones left.

Each scenario is a function of the ``Lab``; it raises ``Failed`` (one line) when a check fails.
Every step that discovers runs with ``discovery = ndctl`` and ``discovery = sysfs`` and checks
that both see the same namespaces and lead to the same Placement state.
"""

import json
import os
import time
import typing
import uuid

from tests.e2e.lab import AGENT
from tests.e2e.lab import NOBODY
from tests.e2e.lab import PP
from tests.e2e.lab import Failed
from tests.e2e.lab import Lab
from tests.e2e.lab import Run
from tests.e2e.lab import check
from tests.e2e.lab import quote

MANAGED = "CUSTOM_PMEM_PLACEMENT_MANAGED"
FIRST = "4GB:ns_0,SMALL:ns_1|ns_2"
WITH_NS_3 = "4GB:ns_0|ns_3,SMALL:ns_1|ns_2"
WITHOUT_NS_2 = "4GB:ns_0|ns_3,SMALL:ns_1"
NDCTL_ARGV = "list --namespaces --idle --device-dax"  # what pmem-placement runs


def create(lab: Lab, region: str, mode: str, size: str, name: str | None = None) -> str:
    """``ndctl create-namespace``; returns the new namespace's device."""
    named = f" -n {quote(name)}" if name else ""
    out = lab.ok(f"ndctl create-namespace -r {region} -m {mode} -s {size}{named}")
    return str(json.loads(out)["dev"])


def first_sync(lab: Lab) -> None:
    # A fresh host: label areas initialised, three named devdax namespaces created by real ndctl.
    lab.capture("ndctl-list-N-i-X-label-less", lab.ok("ndctl list -N -i -X"))
    lab.ok("ndctl disable-region all && ndctl init-labels -f all && ndctl enable-region all")
    create(lab, "region0", "devdax", "128M", "ns_0")
    create(lab, "region0", "devdax", "128M", "ns_1")
    create(lab, "region1", "devdax", "128M", "ns_2")
    lab.capture("ndctl-list-first-sync", lab.ok(f"ndctl {NDCTL_ARGV}"))
    # The chroot has no writable temporary directory (the host's / is read-only): ndctl must not need one.
    touch = lab.sh(lab.product(["touch", "/tmp/pmem-placement-e2e"]))
    check(touch.rc != 0 and "Read-only file system" in touch.err, f"the chroot's /tmp is not read-only: touch {touch}")

    view = lab.shows_agree("first", FIRST)
    check([ns["status"] for ns in view if ns["name"]] == ["used"] * 3, f"show: {view}")
    before = lab.admin.snapshot(lab.root_uuid)
    rec = lab.pp("reconcile (ndctl)", lab.config("first-ndctl", "ndctl", FIRST), "reconcile", "--format", "json")
    rec.expect(0)
    check(rec.json["status"] == "changed", f"reconcile: status {rec.json['status']}")
    rp = lab.provider()
    check(rp["name"] == f"{lab.host}:pmem", f"provider named {rp['name']}")
    check(lab.totals() == {"4GB": 1, "SMALL": 2}, f"totals {lab.totals()}")
    check(MANAGED in lab.admin.traits(rp["uuid"]), "no managed trait")
    root_before = before[lab.root_uuid]
    check(lab.admin.snapshot(lab.root_uuid)[lab.root_uuid] == root_before, "the compute node's provider changed")

    # sysfs agrees: the same configuration finds Placement in sync and writes nothing.
    after = lab.admin.snapshot(lab.root_uuid)
    rec = lab.pp("reconcile (sysfs)", lab.config("first-sysfs", "sysfs", FIRST), "reconcile", "--format", "json")
    rec.expect(0)
    check(rec.json["status"] == "in_sync", f"reconcile (sysfs): status {rec.json['status']}, changes {rec.json['changes']}")
    check(lab.admin.snapshot(lab.root_uuid) == after, "reconcile (sysfs) wrote to Placement")


def unusable_namespaces_are_refused(lab: Lab) -> None:
    # Each of these, once configured, is refused with the documented reason and nothing is written.
    create(lab, "region1", "fsdax", "128M", "fs_0")
    unnamed = create(lab, "region1", "devdax", "128M")
    disabled = create(lab, "region0", "devdax", "128M", "dis_0")
    lab.ok(f"ndctl disable-namespace {disabled}")
    lab.capture("ndctl-list-disabled", lab.ok(f"ndctl {NDCTL_ARGV}"))
    ram = create(lab, "region0", "devdax", "256M", "ram_0")
    [ram_ns] = lab.ndctl_json(f"list -n {ram} -X")
    chardev = ram_ns["daxregion"]["devices"][0]["chardev"]
    lab.ok(f"daxctl reconfigure-device --mode=system-ram {chardev}")
    lab.capture("ndctl-list-system-ram", lab.ok(f"ndctl {NDCTL_ARGV}"))
    lab.capture("daxctl-list-system-ram", lab.ok(f"daxctl list -d {chardev}"))
    lab.capture("sysfs-dump-refused", lab.sysfs_dump())

    expected = {
        "dis_0": "is not usable: it is disabled",
        "ram_0": f"is not usable: its dax device {chardev} is in system-ram mode, not devdax",
        "fs_0": "is not usable: its mode is fsdax, not devdax",
        unnamed: "exists but has no name",
    }
    # show names each namespace's own problem; reconcile, for one given by its device, says how to name it.
    shown = {**expected, unnamed: "it has no name"}
    view = lab.shows_agree("refused-show", FIRST + ",BAD:" + "|".join(expected))
    before = lab.admin.snapshot(lab.root_uuid)
    commands = {}
    for i, name in enumerate(expected):
        for d in ("ndctl", "sysfs"):
            conf = lab.config(f"refused-{i}-{d}", d, f"{FIRST},BAD:{name}")
            commands[f"{name} ({d})"] = lab.product([PP, "--config-file", conf, "reconcile"])
    runs = lab.parallel(commands)
    for label, run in runs.items():
        name = label.split(" ")[0]
        run.expect(2)
        line = run.error_line()
        check(repr(name) in line and expected[name] in line, f"{label}: {line!r}, expected {expected[name]!r}")
    check(lab.admin.snapshot(lab.root_uuid) == before, "a refused configuration wrote to Placement")
    verdicts = {ns["dev"] if ns["dev"] == unnamed else ns["name"]: ns["status"] for ns in view}
    for key, reason in shown.items():
        want = reason.removeprefix("is ")
        check(key in verdicts, f"show: {key} is not listed")
        check(want in verdicts[key], f"show: {key} {verdicts[key]!r}, expected {want!r}")


def non_root(lab: Lab) -> None:
    # ndctl as an unprivileged user: the same namespaces, only daxregion.align is missing.
    as_root = lab.ok(f"ndctl {NDCTL_ARGV}")
    as_nobody = lab.ok(lab.product(["ndctl", *NDCTL_ARGV.split()], user=NOBODY))
    lab.capture("ndctl-list-root", as_root)
    lab.capture("ndctl-list-nonroot", as_nobody)
    aligns = [["align" in ns.get("daxregion", {}) for ns in json.loads(out) if "daxregion" in ns]
              for out in (as_root, as_nobody)]
    check(all(aligns[0]) and not any(aligns[1]), f"daxregion.align as root, as nobody: {aligns}")
    root_view = lab.shows_agree("root", FIRST)
    nobody_view = lab.shows_agree("nobody", FIRST, user=NOBODY)
    check(root_view == nobody_view, "show as root and as an unprivileged user differ")


def ndctl_missing_or_hanging(lab: Lab) -> None:
    timeout = 3
    # The hanging ndctl notes when it started: the product's part of the wait is measured from there.
    hang = lab.guest.write("hanging-ndctl", "#!/bin/sh\ncut -d' ' -f1 /proc/uptime > /run/xchg/hang-started\n"
                                             "exec sleep 600\n")
    os.chmod(os.path.join(lab.guest.xchg, "hanging-ndctl"), 0o755)
    missing = lab.config("missing", "ndctl", FIRST, pmem={"ndctl_path": "/nonexistent/ndctl"})
    not_in_path = lab.config("not-in-path", "ndctl", FIRST)  # the default ndctl_path: 'ndctl', from PATH
    hanging = lab.config("hanging", "ndctl", FIRST, pmem={"ndctl_path": hang, "ndctl_timeout": str(timeout)})
    before = lab.admin.snapshot(lab.root_uuid)
    timed = 'start=$(cut -d" " -f1 /proc/uptime); {}; rc=$?; echo "$start $(cut -d" " -f1 /proc/uptime)" >&2; exit $rc'
    runs = lab.parallel({
        "missing": timed.format(lab.product([PP, "--config-file", missing, "reconcile"])),
        "not in PATH": lab.product([PP, "--config-file", not_in_path, "reconcile"], path="/nonexistent"),
        "hanging": timed.format(lab.product([PP, "--config-file", hanging, "reconcile"])),
    })
    line = runs["missing"].expect(2).error_line()
    check("[pmem]ndctl_path: '/nonexistent/ndctl' is not an executable" in line, f"missing ndctl: {line!r}")
    line = runs["not in PATH"].expect(2).error_line()
    check("[pmem]ndctl_path: 'ndctl' is not an executable" in line, f"ndctl not in PATH: {line!r}")
    line = runs["hanging"].expect(2).error_line()
    check(f"did not finish within {timeout} s ([pmem]ndctl_timeout)" in line, f"hanging ndctl: {line!r}")
    elapsed = {k: _elapsed(runs[k]) for k in ("missing", "hanging")}
    hang_started = float(lab.guest.file("hang-started") or "nan")
    waited = float(runs["hanging"].result.err.strip().splitlines()[-1].split()[1]) - hang_started
    # Bounded by [pmem]ndctl_timeout, not by its 30 s default nor the 600 s ndctl would hang: from
    # ndctl's start to the product's exit, and in all, beyond what a run that stops before ndctl takes.
    check(timeout <= waited < timeout + 12, f"hanging ndctl: {waited:.1f} s from its start to the exit")
    check(elapsed["hanging"] < elapsed["missing"] + timeout + 15,
          f"hanging ndctl: {elapsed['hanging']:.0f} s in all, {elapsed['missing']:.0f} s without ndctl")
    check("sleep 600" not in lab.ok("ps -o pid,args"), "the hanging ndctl's process group was not killed")
    check(lab.admin.snapshot(lab.root_uuid) == before, "a failed discovery wrote to Placement")


def _elapsed(run: Run) -> float:
    """Seconds a command wrapped in ``timed`` took, by the guest's clock."""
    start, end = map(float, run.result.err.strip().splitlines()[-1].split())
    return end - start


def agent_with_real_signals(lab: Lab) -> None:
    interval = 5
    agent_options: dict[str, typing.Any] = {
        "agent": {"interval": str(interval), "initial_jitter": "0", "max_backoff": str(interval),
                  "status_file": "/run/xchg/agent-status.json"},
    }
    # Configuration management already names ns_3; the operator creates it while the agent runs.
    conf = lab.config("agent", "ndctl", WITH_NS_3, **agent_options)
    agent = lab.product([AGENT, "--config-file", conf])
    lab.ok(f"( {agent} > /xchg/agent.log 2>&1 & echo $! > /xchg/agent.pid; wait $!; echo $? > /xchg/agent.rc ) "
           "> /dev/null 2>&1 &")
    status = wait_for(lab, 180, "the agent's first cycle", lambda s: s.get("cycles", 0) >= 1)
    check(status["state"] == "error" and "ns_3" in (status["last_error"] or {}).get("message", ""),
          f"agent before ns_3 exists: {status}")
    check(lab.totals() == {"4GB": 1, "SMALL": 2}, f"the agent wrote on a configuration error: {lab.totals()}")

    create(lab, "region0", "devdax", "128M", "ns_3")
    # Reported within one interval: the status file counts the cycles done. The cycle after the one
    # that may have been running when ns_3 appeared must find it and report it before it ends.
    done = int(json.loads(lab.guest.file("agent-status.json"))["cycles"])
    wait_for(lab, 4 * interval + 120, f"cycle {done + 2}", lambda s: s["cycles"] >= done + 2)
    check(lab.totals() == {"4GB": 2, "SMALL": 2}, f"ns_3 not reported by cycle {done + 2}: totals {lab.totals()}")
    wait_for(lab, 60, "state in_sync", lambda s: s["state"] == "in_sync")
    # sysfs agrees with what the agent (ndctl) wrote.
    rec = lab.pp("reconcile (sysfs)", lab.config("agent-sysfs", "sysfs", WITH_NS_3), "reconcile", "--format", "json")
    check(rec.expect(0).json["status"] == "in_sync", f"reconcile (sysfs) after the agent: {rec.json['changes']}")

    # SIGHUP: a new configuration (a trait) applies at once.
    lab.config("agent", "ndctl", WITH_NS_3, pmem={"traits": "CUSTOM_PMEM_E2E"}, **agent_options)
    lab.ok("kill -HUP $(cat /xchg/agent.pid)")
    reloaded = time.monotonic()
    while "CUSTOM_PMEM_E2E" not in lab.admin.traits(lab.provider()["uuid"]):
        check(time.monotonic() - reloaded < 120, "SIGHUP: the new trait never reached Placement")
        time.sleep(1)
    check(lab.sh("kill -0 $(cat /xchg/agent.pid)").rc == 0, "the agent is gone after SIGHUP")

    # SIGTERM: exits 0.
    lab.ok("kill -TERM $(cat /xchg/agent.pid)")
    stopped = time.monotonic()
    while not lab.guest.file("agent.rc").strip():
        check(time.monotonic() - stopped < 120, "SIGTERM: the agent did not exit")
        time.sleep(1)
    log = lab.guest.file("agent.log")
    lab.capture("agent.log", log)
    rc = int(lab.guest.file("agent.rc"))
    check(rc == 0, f"SIGTERM: the agent exited {rc}")
    check("Traceback" not in log, "a traceback in the agent's log")
    # One warning when the problem starts (not one per cycle), one line per change applied.
    warnings = [line for line in log.splitlines() if " WARNING " in line and "'ns_3'" in line]
    check(len(warnings) == 1, f"expected one warning naming ns_3 in the agent's log, found {len(warnings)}")
    check(any("CUSTOM_PMEM_NAMESPACE_4GB" in line and "1 -> 2" in line for line in log.splitlines()),
          "the agent's log has no line for the change to CUSTOM_PMEM_NAMESPACE_4GB")


def wait_for(lab: Lab, timeout: float, what: str,
             condition: typing.Callable[[dict[str, typing.Any]], bool]) -> dict[str, typing.Any]:
    started = time.monotonic()
    while True:
        text = lab.guest.file("agent-status.json")
        status = json.loads(text) if text.strip() else {}
        if status and condition(status):
            return status
        if lab.guest.file("agent.rc").strip():
            raise Failed(f"the agent exited {lab.guest.file('agent.rc').strip()} waiting for {what}: "
                         + lab.guest.file("agent.log").strip()[-300:])
        check(time.monotonic() - started < timeout, f"waited {timeout:g} s for {what}: {status}")
        time.sleep(1)


def destroyed_while_allocated(lab: Lab) -> None:
    rp = lab.provider()["uuid"]
    consumer = str(uuid.uuid4())
    lab.admin.allocate(consumer, rp, {"CUSTOM_PMEM_NAMESPACE_SMALL": 1})
    lab.ok(f"ndctl destroy-namespace -f {lab.dev_of('ns_2')}")
    lab.capture("ndctl-list-destroyed", lab.ok(f"ndctl {NDCTL_ARGV}"))
    lab.capture("sysfs-dump-destroyed", lab.sysfs_dump())

    # Still configured: a configuration error naming it, nothing written, the allocation kept.
    # (Until the operator acts, Placement still offers the destroyed namespace's unit: exit 2
    # writes nothing, by design. The invariant is checked once the configuration is corrected.)
    allocated = lab.admin.allocations(consumer)
    before = lab.admin.snapshot(lab.root_uuid)
    by_ndctl, by_sysfs = lab.both("destroyed", WITH_NS_3, "reconcile")
    for run in (by_ndctl, by_sysfs):
        line = run.expect(2).error_line()
        check("namespace 'ns_2' (label 'SMALL') is not on this host" in line, f"{run.label}: {line!r}")
    check(lab.admin.snapshot(lab.root_uuid) == before, "a missing namespace led to a write")
    check(lab.admin.allocations(consumer) == allocated, f"the allocation changed: {lab.admin.allocations(consumer)}")
    # The documented window: until the operator fixes the mapping, Placement keeps offering ns_2's unit.
    small = lab.classes()["CUSTOM_PMEM_NAMESPACE_SMALL"]
    check(small["total"] == 2 and small["used"] == 1, f"SMALL while ns_2 is destroyed and configured: {small}")

    # The operator drops it from the configuration: the class shrinks below nothing it holds.
    rec = lab.pp("reconcile (ndctl)", lab.config("dropped-ndctl", "ndctl", WITHOUT_NS_2), "reconcile", "--format", "json")
    rec.expect(0)
    small = lab.classes()["CUSTOM_PMEM_NAMESPACE_SMALL"]
    check(small["total"] == 1 and small["used"] == 1, f"SMALL after ns_2 was destroyed: {small}")
    allocations = lab.admin.allocations(consumer)
    check(list(allocations) == [rp] and allocations[rp]["resources"] == {"CUSTOM_PMEM_NAMESPACE_SMALL": 1},
          f"the allocation changed: {allocations}")
    lab.invariant(usable_configured=3)
    rec = lab.pp("reconcile (sysfs)", lab.config("dropped-sysfs", "sysfs", WITHOUT_NS_2), "reconcile", "--format", "json")
    check(rec.expect(0).json["status"] == "in_sync", f"reconcile (sysfs): {rec.json['changes']}")


def after_a_reboot(lab: Lab) -> None:
    # The label areas keep the namespaces across a reboot; disabling a namespace and onlining a
    # dax device as system RAM do not persist. Placement needs no write, the allocation stays.
    lab.guest.reboot(300)
    view = lab.shows_agree("rebooted", WITHOUT_NS_2)
    status = {ns["name"]: ns["status"] for ns in view if ns["name"]}
    check(status == {"ns_0": "used", "ns_1": "used", "ns_3": "used", "fs_0": "not usable: its mode is fsdax, not devdax",
                     "dis_0": "not in [pmem]namespaces", "ram_0": "not in [pmem]namespaces"},
          f"after the reboot: {status}")
    before = lab.admin.snapshot(lab.root_uuid)
    by_ndctl, by_sysfs = lab.both("rebooted", WITHOUT_NS_2, "reconcile", "--format", "json")
    for run in (by_ndctl, by_sysfs):
        check(run.expect(0).json["status"] == "in_sync", f"{run.label}: {run.json['changes']}")
    check(lab.admin.snapshot(lab.root_uuid) == before, "a reconcile after the reboot wrote to Placement")
    lab.invariant(usable_configured=3)


SCENARIOS: list[tuple[str, typing.Callable[[Lab], None]]] = [
    ("first-sync", first_sync),
    ("unusable-namespaces-refused", unusable_namespaces_are_refused),
    ("non-root", non_root),
    ("ndctl-missing-or-hanging", ndctl_missing_or_hanging),
    ("agent-with-real-signals", agent_with_real_signals),
    ("destroyed-while-allocated", destroyed_while_allocated),
    ("after-a-reboot", after_a_reboot),
]
