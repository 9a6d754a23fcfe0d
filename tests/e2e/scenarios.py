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

from pmem_placement.discover import ndctl as product_ndctl
from pmem_placement.discover import ndctl_json
from pmem_placement.errors import PmemPlacementError
from tests.e2e import machine
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
WITH_NS_4 = "4GB:ns_0|ns_3,SMALL:ns_1|ns_4"
SMALL = "CUSTOM_PMEM_NAMESPACE_SMALL"
FOUR_GB = "CUSTOM_PMEM_NAMESPACE_4GB"
NDCTL_ARGV = " ".join(product_ndctl.ARGV)  # what pmem-placement runs: namespaces nested in buses and regions
FLAT_ARGV = "list --namespaces --idle --device-dax"  # namespaces (and their daxregion) at the top level
WITHDRAWN = "(their units are withdrawn"  # and then why nothing else changes, until when
FAILED_ARM = "DIMM nmem1 failed to arm (it cannot keep writes across a power loss)"
AGENT_INTERVAL = 5


def create(lab: Lab, region: str | None, mode: str, size: str, name: str | None = None) -> str:
    """``ndctl create-namespace`` (in ``region``, or where there is room); the new namespace's device."""
    named = f" -n {quote(name)}" if name else ""
    where = f" -r {region}" if region else ""
    out = lab.ok(f"ndctl create-namespace{where} -m {mode} -s {size}{named}")
    return str(json.loads(out)["dev"])


def chardev_of(lab: Lab, dev: str) -> str:
    """The dax device of namespace ``dev``."""
    [ns] = lab.ndctl_json(f"list -n {dev} -X")
    return str(ns["daxregion"]["devices"][0]["chardev"])


def _apart_from_reserved(snapshot: dict[str, typing.Any], rp_uuid: str, rc: str) -> dict[str, typing.Any]:
    """``Admin.snapshot`` without ``rp_uuid``'s generations and ``rc``'s reserved: what must stay."""
    out = dict(snapshot)
    name, _, inventories, traits, usages = out[rp_uuid]
    kept = {k: ({**v, "reserved": None} if k == rc else v) for k, v in inventories["inventories"].items()}
    out[rp_uuid] = (name, kept, traits, usages)
    return out


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
    check([ns["status"] for ns in view if ns["name"]] == ["configured"] * 3, f"show: {view}")
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
    chardev = chardev_of(lab, ram)
    lab.ok(f"daxctl reconfigure-device --mode=system-ram {chardev}")
    lab.capture("ndctl-list-system-ram", lab.ok(f"ndctl {NDCTL_ARGV}"))
    lab.capture("daxctl-list-system-ram", lab.ok(f"daxctl list -d {chardev}"))
    lab.capture_sysfs("sysfs-dump-refused")

    expected = {
        "dis_0": "is not usable: it is disabled",
        "ram_0": f"is not usable: its dax device {chardev} is in system-ram mode, not devdax",
        "fs_0": "is not usable: its mode is fsdax, not devdax",
        unnamed: "exists but has no name",
    }
    # show names each namespace's own problem; reconcile, for one given by its device, says how to name it.
    shown = {**expected, unnamed: "it has no name"}
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
    view = lab.shows_agree("refused-show", FIRST + ",BAD:" + "|".join(expected))
    verdicts = {ns["dev"] if ns["dev"] == unnamed else ns["name"]: ns["status"] for ns in view}
    for key, reason in shown.items():
        want = reason.removeprefix("is ")
        check(key in verdicts, f"show: {key} is not listed")
        check(want in verdicts[key], f"show: {key} {verdicts[key]!r}, expected {want!r}")


def non_root(lab: Lab) -> None:
    # ndctl as an unprivileged user: the same namespaces, only daxregion.align is missing. Looked
    # for in a flat listing, where each namespace is a top-level record.
    as_root = lab.ok(f"ndctl {FLAT_ARGV}")
    as_nobody = lab.ok(lab.product(["ndctl", *FLAT_ARGV.split()], user=NOBODY))
    lab.capture("ndctl-list-root", as_root)
    lab.capture("ndctl-list-nonroot", as_nobody)
    aligns = [["align" in ns.get("daxregion", {}) for ns in json.loads(out) if "daxregion" in ns]
              for out in (as_root, as_nobody)]
    check(aligns[0] and all(aligns[0]) and not any(aligns[1]), f"daxregion.align as root, as nobody: {aligns}")
    # pmem-placement's own call (buses, DIMMs, regions, health): the same namespaces and health
    # verdicts as root and as nobody, by the product's parser.
    as_root = lab.ok(f"ndctl {NDCTL_ARGV}")
    as_nobody = lab.ok(lab.product(["ndctl", *product_ndctl.ARGV], user=NOBODY))
    lab.capture("ndctl-combined-root", as_root)
    lab.capture("ndctl-combined-nonroot", as_nobody)
    verdicts = [_verdicts(out, who) for out, who in ((as_root, "root"), (as_nobody, "nobody"))]
    check(verdicts[0] == verdicts[1], f"ndctl's combined call as root and as nobody differ: {verdicts}")
    names = {v[0] for v in verdicts[0].values()}
    check({"ns_0", "ns_1", "ns_2"} <= names, f"ndctl's combined call: namespaces {sorted(map(str, names))}")
    check(all(v[-2] == "ok" for v in verdicts[0].values()), f"ndctl's combined call: health {verdicts[0]}")
    root_view = lab.shows_agree("root", FIRST)
    nobody_view = lab.shows_agree("nobody", FIRST, user=NOBODY)
    check(root_view == nobody_view, "show as root and as an unprivileged user differ")


def _verdicts(text: str, who: str) -> dict[str, tuple[typing.Any, ...]]:
    """dev -> (name, mode, size, chardev, health, health reasons), as pmem-placement parses ``text``."""
    try:
        found = ndctl_json.parse(text, need_bus=True)
    except PmemPlacementError as exc:
        raise Failed(f"ndctl's combined call as {who}: {exc}") from None
    return {ns.dev: (ns.name, ns.mode, ns.size, ns.chardev, ns.health.state, ns.health.reasons) for ns in found}


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


AGENT_OPTIONS: dict[str, typing.Any] = {
    "agent": {"interval": str(AGENT_INTERVAL), "initial_jitter": "0", "max_backoff": str(AGENT_INTERVAL),
              "status_file": "/run/xchg/agent-status.json"},
}


def start_agent(lab: Lab, conf: str) -> None:
    """``pmem-placement-agent`` in the background: its log, pid and exit status in the exchange directory."""
    agent = lab.product([AGENT, "--config-file", conf])
    lab.ok(f"( {agent} > /xchg/agent.log 2>&1 & echo $! > /xchg/agent.pid; wait $!; echo $? > /xchg/agent.rc ) "
           "> /dev/null 2>&1 &")


def stop_agent(lab: Lab, capture: str) -> str:
    """SIGTERM: the agent exits 0 without a traceback; returns its log."""
    lab.ok("kill -TERM $(cat /xchg/agent.pid)")
    stopped = time.monotonic()
    while not lab.guest.file("agent.rc").strip():
        check(time.monotonic() - stopped < 120, "SIGTERM: the agent did not exit")
        time.sleep(1)
    log = lab.guest.file("agent.log")
    lab.capture(capture, log)
    rc = int(lab.guest.file("agent.rc"))
    check(rc == 0, f"SIGTERM: the agent exited {rc}")
    check("Traceback" not in log, "a traceback in the agent's log")
    return log


def agent_with_real_signals(lab: Lab) -> None:
    interval = AGENT_INTERVAL
    agent_options = AGENT_OPTIONS
    # Configuration management already names ns_3; the operator creates it while the agent runs.
    conf = lab.config("agent", "ndctl", WITH_NS_3, **agent_options)
    start_agent(lab, conf)
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
    log = stop_agent(lab, "agent.log")
    # One warning when the problem starts (not one per cycle), one line per change applied.
    warnings = [line for line in log.splitlines() if " WARNING " in line and "'ns_3'" in line]
    check(len(warnings) == 1, f"expected one warning naming ns_3 in the agent's log, found {len(warnings)}")
    check(any("CUSTOM_PMEM_NAMESPACE_4GB" in line and "1 -> 2" in line for line in log.splitlines()),
          "the agent's log has no line for the change to CUSTOM_PMEM_NAMESPACE_4GB")


# The agent hears the kernel: a long interval, and each change reaches Placement in seconds.
EVENTS_INTERVAL = 600
EVENTS_MAP = "4GB:ns_0|ns_3|ns_5,SMALL:ns_1|ns_2"
EVENTS_DEADLINE = 10.0  # seconds from the command's exit to Placement (the bound)


def agent_hears_the_kernel(lab: Lab) -> None:
    # A status file of its own: the last agent's worker may still write its own as it ends.
    options = {"agent": {**AGENT_OPTIONS["agent"], "interval": str(EVENTS_INTERVAL),
                         "max_backoff": str(EVENTS_INTERVAL), "status_file": "/run/xchg/agent-events-status.json"}}
    lab.ok("rm -f /xchg/agent.rc")
    start_agent(lab, lab.config("agent-events", "ndctl", EVENTS_MAP, **options))
    status = wait_for(lab, 180, "the agent's first cycle", lambda s: s.get("cycles", 0) >= 1,
                      status_file="agent-events-status.json")
    check(str(status.get("events", "")).startswith("listening (uevents of dax, memory, nd;"),
          f"the agent does not listen to the kernel: {status.get('events')}")
    # ns_5 not there yet: the class is held back at what it offered (nothing raised while a
    # configured namespace is withdrawn).
    check(status["state"] == "error" and lab.classes()[FOUR_GB]["total"] == 2,
          f"ns_5 not there yet: {status['state']}, {lab.classes()[FOUR_GB]}")
    timings = []

    def reaches(what: str, command: str, reserved: int) -> str:
        out = lab.ok(command)
        done = time.monotonic()
        while (lab.classes()[FOUR_GB]["total"], lab.classes()[FOUR_GB]["reserved"]) != (3, reserved):
            check(time.monotonic() - done < 120, f"{what}: Placement did not follow within 120 s "
                  f"({lab.classes()[FOUR_GB]}); the agent's interval is {EVENTS_INTERVAL} s")
            time.sleep(0.2)
        took = time.monotonic() - done
        timings.append(f"{what} {took:.1f} s")
        check(took <= EVENTS_DEADLINE, f"{what}: {took:.1f} s from the command's exit to Placement, more than "
              f"{EVENTS_DEADLINE:g} s")
        return out

    dev = str(json.loads(reaches("created", "ndctl create-namespace -r region1 -m devdax -s 256M -n ns_5", 0))["dev"])
    reaches("disabled", f"ndctl disable-namespace {dev}", 1)
    reaches("enabled", f"ndctl enable-namespace {dev}", 0)
    chardev = chardev_of(lab, dev)
    reaches("system-ram", f"daxctl reconfigure-device --mode=system-ram {chardev}", 1)
    # Back to devdax (its memory offlined first), then destroyed.
    reaches("devdax again", f"daxctl reconfigure-device --mode=devdax --force {chardev}", 0)
    reaches("destroyed", f"ndctl destroy-namespace -f {dev}", 1)
    status = json.loads(lab.guest.file("agent-events-status.json"))
    check(status["cycles"] <= 1 + 3 * len(timings), f"{status['cycles']} cycles for {len(timings)} changes")
    log = stop_agent(lab, "agent-events.log")
    check("events: listening" in log, "the agent's log does not say it listens")
    print("# agent-hears-the-kernel, from the command's exit to Placement (interval 600 s): " + ", ".join(timings),
          flush=True)


def wait_for(lab: Lab, timeout: float, what: str, condition: typing.Callable[[dict[str, typing.Any]], bool],
             status_file: str = "agent-status.json") -> dict[str, typing.Any]:
    started = time.monotonic()
    while True:
        text = lab.guest.file(status_file)
        status = json.loads(text) if text.strip() else {}
        if status and condition(status):
            return status
        if lab.guest.file("agent.rc").strip():
            raise Failed(f"the agent exited {lab.guest.file('agent.rc').strip()} waiting for {what}: "
                         + lab.guest.file("agent.log").strip()[-300:])
        check(time.monotonic() - started < timeout, f"waited {timeout:g} s for {what}: {status}")
        time.sleep(1)


def destroyed_while_allocated(lab: Lab) -> None:
    # From here on consumers hold PMEM: the host's runs share one state directory that survives
    # reboots (in the exchange directory), as /var/lib/pmem-placement does on a real host, and it
    # learns what each class has before the first allocation (a new one would start the fail-safe).
    lab.state_dir = "/run/xchg/state"
    rec = lab.pp("reconcile (ndctl)", lab.config("host-ndctl", "ndctl", WITH_NS_3), "reconcile", "--format", "json")
    rec.expect(0)
    rp = lab.provider()["uuid"]
    consumer = str(uuid.uuid4())
    lab.admin.allocate(consumer, rp, {SMALL: 1})
    lab.ok(f"ndctl destroy-namespace -f {lab.dev_of('ns_2')}")
    lab.capture("ndctl-list-destroyed", lab.ok(f"ndctl {NDCTL_ARGV}"))
    lab.capture_sysfs("sysfs-dump-destroyed")

    # Still configured: its unit is withdrawn (reserved), nothing else changes, exit 2 naming it,
    # the allocation kept. ndctl first; then sysfs finds the same and has nothing left to write.
    allocated = lab.admin.held(consumer)
    before = lab.admin.snapshot(lab.root_uuid)
    named = "namespace 'ns_2' (label 'SMALL') is not on this host"
    rec = lab.pp("reconcile (ndctl)", lab.config("destroyed-ndctl", "ndctl", WITH_NS_3), "reconcile")
    line = rec.expect(2).error_line()
    check(named in line and WITHDRAWN in line, f"{rec.label}: {line!r}")
    check(f"inventory {SMALL}: reserved 0 -> 1 (1 withdrawn: ns_2 is not on this host" in rec.result.out,
          f"{rec.label}: stdout {rec.result.out!r}")
    small = lab.classes()[SMALL]
    check(small == {"total": 2, "reserved": 1, "used": 1}, f"SMALL while ns_2 is destroyed and configured: {small}")
    after = lab.admin.snapshot(lab.root_uuid)
    check(_apart_from_reserved(after, rp, SMALL) == _apart_from_reserved(before, rp, SMALL),
          "withdrawing ns_2 changed more than SMALL's reserved")
    check(lab.admin.held(consumer) == allocated, f"the allocation changed: {lab.admin.held(consumer)}")
    lab.invariant(usable_configured=3)
    rec = lab.pp("reconcile (sysfs)", lab.config("destroyed-sysfs", "sysfs", WITH_NS_3), "reconcile", "--format", "json")
    line = rec.expect(2).error_line()
    check(named in line, f"{rec.label}: {line!r}")
    check(rec.json["status"] == "error" and (rec.json["error"] or {}).get("type") == "ConfigError",
          f"{rec.label}: status {rec.json['status']}, error {rec.json['error']}")
    check(lab.admin.snapshot(lab.root_uuid) == after, "a second run with ns_2 destroyed wrote to Placement")

    # The operator drops it from the configuration: the class shrinks below nothing it holds.
    rec = lab.pp("reconcile (ndctl)", lab.config("dropped-ndctl", "ndctl", WITHOUT_NS_2), "reconcile", "--format", "json")
    rec.expect(0)
    small = lab.classes()[SMALL]
    check(small["total"] == 1 and small["used"] == 1, f"SMALL after ns_2 was destroyed: {small}")
    allocations = lab.admin.held(consumer)
    check(allocations == {rp: {SMALL: 1}}, f"the allocation changed: {allocations}")
    lab.invariant(usable_configured=3)
    rec = lab.pp("reconcile (sysfs)", lab.config("dropped-sysfs", "sysfs", WITHOUT_NS_2), "reconcile", "--format", "json")
    check(rec.expect(0).json["status"] == "in_sync", f"reconcile (sysfs): {rec.json['changes']}")


def after_a_reboot(lab: Lab) -> None:
    # The label areas keep the namespaces across a reboot; disabling a namespace and onlining a
    # dax device as system RAM do not persist. Placement needs no write, the allocation stays.
    lab.guest.reboot(300)
    before = lab.admin.snapshot(lab.root_uuid)
    by_ndctl, by_sysfs = lab.both("rebooted", WITHOUT_NS_2, "reconcile", "--format", "json")
    for run in (by_ndctl, by_sysfs):
        check(run.expect(0).json["status"] == "in_sync", f"{run.label}: {run.json['changes']}")
    check(lab.admin.snapshot(lab.root_uuid) == before, "a reconcile after the reboot wrote to Placement")
    lab.invariant(usable_configured=3)
    view = lab.shows_agree("rebooted", WITHOUT_NS_2)
    status = {ns["name"]: ns["status"] for ns in view if ns["name"]}
    check(status == {"ns_0": "configured", "ns_1": "configured", "ns_3": "configured", "fs_0": "not usable: its mode is fsdax, not devdax",
                     "dis_0": "not in [pmem]namespaces", "ram_0": "not in [pmem]namespaces"},
          f"after the reboot: {status}")


def not_armed_dimm_withdrawn(lab: Lab) -> None:
    # ns_4 made and offered while its DIMM is armed; booted again with that DIMM not armed, its
    # region is read-only and its namespace still an enabled devdax one: unhealthy, its unit
    # withdrawn (reserved) until [pmem]unhealthy = offer offers it all the same.
    create(lab, "region1", "devdax", "128M", "ns_4")
    rec = lab.pp("reconcile (ndctl)", lab.config("armed-ndctl", "ndctl", WITH_NS_4), "reconcile", "--format", "json")
    check(rec.expect(0).json["status"] == "changed", f"{rec.label}: status {rec.json['status']}")
    check(lab.totals() == {"4GB": 2, "SMALL": 2}, f"with ns_4: totals {lab.totals()}")

    lab.guest.unarmed = {1}
    lab.guest.reboot(300)
    lab.capture("ndctl-combined-unarmed", lab.ok(f"ndctl {NDCTL_ARGV}"))
    lab.capture_sysfs("sysfs-dump-unarmed")
    read_only = lab.ok("cat /sys/bus/nd/devices/region1/read_only").strip()
    check(read_only == "1", f"region1 of the DIMM booted not armed: read_only {read_only!r}")
    dev = lab.dev_of("ns_4")

    # sysfs first: it withdraws ns_4's unit; ndctl then finds the same and nothing to write.
    rp = lab.provider()["uuid"]
    named = f"namespace 'ns_4' ({dev}, label 'SMALL') is unhealthy: {FAILED_ARM}"
    before = lab.admin.snapshot(lab.root_uuid)
    reserve = {d: lab.config(f"unarmed-{d}", d, WITH_NS_4) for d in ("ndctl", "sysfs")}
    rec = lab.pp("reconcile (sysfs)", reserve["sysfs"], "reconcile")
    line = rec.expect(2).error_line()
    check(named in line and "[pmem]unhealthy = offer" in line and WITHDRAWN in line, f"{rec.label}: {line!r}")
    check(f"inventory {SMALL}: reserved 0 -> 1 (1 withdrawn: ns_4 is unhealthy: {FAILED_ARM}" in rec.result.out,
          f"{rec.label}: stdout {rec.result.out!r}")
    classes = lab.classes()
    check(classes[SMALL] == {"total": 2, "reserved": 1, "used": 1} and
          classes[FOUR_GB] == {"total": 2, "reserved": 0, "used": 0}, f"with ns_4 unhealthy: {classes}")
    after = lab.admin.snapshot(lab.root_uuid)
    check(_apart_from_reserved(after, rp, SMALL) == _apart_from_reserved(before, rp, SMALL),
          "withdrawing ns_4 changed more than SMALL's reserved")
    lab.invariant(usable_configured=3)
    rec = lab.pp("reconcile (ndctl)", reserve["ndctl"], "reconcile", "--format", "json")
    line = rec.expect(2).error_line()
    check(named in line, f"{rec.label}: {line!r}")
    check(rec.json["status"] == "error" and (rec.json["error"] or {}).get("type") == "ConfigError",
          f"{rec.label}: status {rec.json['status']}, error {rec.json['error']}")
    check(lab.admin.snapshot(lab.root_uuid) == after, "a second run with ns_4 unhealthy wrote to Placement")

    # [pmem]unhealthy = offer, for one run: offered, with a warning; the next normal run withdraws it again.
    offer = lab.config("unarmed-offer", "ndctl", WITH_NS_4, pmem={"unhealthy": "offer"})
    rec = lab.pp("reconcile (ndctl, unhealthy = offer)", offer, "reconcile", "--format", "json")
    check(rec.expect(0).json["status"] == "changed", f"{rec.label}: status {rec.json['status']}")
    check("'ns_4'" in rec.result.err and "offered all the same" in rec.result.err,
          f"{rec.label}: no warning naming ns_4 on stderr: {rec.result.err!r}")
    small = lab.classes()[SMALL]
    check(small == {"total": 2, "reserved": 0, "used": 1}, f"SMALL with [pmem]unhealthy = offer: {small}")
    rec = lab.pp("reconcile (sysfs)", reserve["sysfs"], "reconcile")
    check(named in rec.expect(2).error_line(), f"{rec.label}: {rec.error_line()!r}")
    small = lab.classes()[SMALL]
    check(small == {"total": 2, "reserved": 1, "used": 1}, f"SMALL back to [pmem]unhealthy = reserve: {small}")

    # show, with both discoveries: ns_4 unhealthy and withdrawn, the others ok.
    view = lab.shows_agree("unarmed", WITH_NS_4)
    rows = {ns["name"]: ns for ns in view if ns["name"] in ("ns_0", "ns_1", "ns_3", "ns_4")}
    health = {name: row["health"] for name, row in rows.items()}
    check(health == {"ns_0": "ok", "ns_1": "ok", "ns_3": "ok", "ns_4": "unhealthy"}, f"show: health {health}")
    check(rows["ns_4"]["health_reasons"] == [FAILED_ARM], f"show: ns_4's health reasons {rows['ns_4']['health_reasons']}")
    check(rows["ns_4"]["status"].startswith("withdrawn: unhealthy: DIMM nmem1 failed to arm"),
          f"show: ns_4's status {rows['ns_4']['status']!r}")


CXL_HOST = "e2e-cxl"
CXL = "CUSTOM_PMEM_NAMESPACE_CXL"
CXL_MAP = "CXL:cxl_0|cxl_1"


def cxl_end_to_end(lab: Lab) -> None:
    # The NVDIMM guest is powered off (the CPUs are for one guest at a time): a CXL machine, in
    # the same Placement as another compute node, powered off at the end. The last scenario.
    nfit = lab.guest
    nfit.poweroff()
    guest = machine.Machine(os.path.join(nfit.work, "cxl"), nfit.kernel, nfit.initrd, nfit.port, kind="cxl")
    guest.deadline = nfit.deadline
    try:
        try:
            guest.boot(300)
        except machine.BootError as exc:
            raise Failed(f"the CXL guest did not boot: {exc} (console: {guest.console})") from None
        cxl = Lab(guest, lab.admin, CXL_HOST, lab.admin.create_compute_node(CXL_HOST))
        cxl.captures, cxl.keep_captures = lab.captures, lab.keep_captures
        _cxl(cxl)
    finally:
        guest.poweroff()


def _cxl(lab: Lab) -> None:
    lab.ok("cxl create-region -m -t pmem -d decoder0.0 -w 1 mem0")
    create(lab, None, "devdax", "128M", "cxl_0")
    create(lab, None, "devdax", "256M", "cxl_1")  # 256M: room for one memory block as system RAM
    lab.capture("cxl-ndctl-combined", lab.ok(f"ndctl {NDCTL_ARGV}"))
    lab.capture("cxl-list-M-H", lab.ok("cxl list -M -H"))
    lab.capture_sysfs("cxl-sysfs-dump")

    # nova reports the same namespaces on the compute node ([libvirt]pmem_namespaces): the audit
    # finds nothing wrong, while show with both discoveries sees them alike.
    lab.admin.set_inventory(lab.root_uuid, CXL, 2)
    nova_conf = lab.guest.write("nova.conf", f"[libvirt]\npmem_namespaces = {CXL_MAP}\n")
    confs = {d: lab.config(f"cxl-{d}", d, CXL_MAP) for d in ("ndctl", "sysfs")}
    runs = lab.parallel({
        "show (ndctl)": lab.product([PP, "--config-file", confs["ndctl"], "show", "--format", "json"]),
        "show (sysfs)": lab.product([PP, "--config-file", confs["sysfs"], "show", "--format", "json"]),
        "audit": lab.product([PP, "--config-file", confs["ndctl"], "audit", "--format", "json",
                              "--nova-config", nova_conf]),
    })
    view = lab.compare_shows(runs["show (ndctl)"], runs["show (sysfs)"])
    rows = {ns["name"]: ns for ns in view if ns["name"]}
    check(sorted(rows) == ["cxl_0", "cxl_1"], f"show: namespaces {sorted(rows)}")
    for name, row in rows.items():
        seen = {k: row[k] for k in ("bus_provider", "numa_node", "target_node", "health")}
        check(seen == {"bus_provider": "CXL", "numa_node": 0, "target_node": 1, "health": "ok"}, f"show: {name}: {seen}")
    # Both discoveries asked cxl for the device's health: QEMU's device gives none, and Linux 6.1
    # gives the nd DIMM no cxl/id.
    for label in ("show (ndctl)", "show (sysfs)"):
        for ns in runs[label].json["namespaces"]:
            if ns["name"]:
                check(any(n.startswith("CXL mem0 reports no health") for n in ns["health_notes"]),
                      f"{label}: {ns['name']}: the CXL device's health was not asked: {ns['health_notes']}")
    audit = runs["audit"].expect(0).json
    check(audit["status"] == "ok" and audit["findings"] == [], f"audit: {audit['status']}, findings {audit['findings']}")
    lab.admin.set_inventory(lab.root_uuid, CXL, None)

    rec = lab.pp("reconcile (ndctl)", confs["ndctl"], "reconcile", "--format", "json")
    check(rec.expect(0).json["status"] == "changed", f"{rec.label}: status {rec.json['status']}")
    check(lab.totals() == {"CXL": 2}, f"totals {lab.totals()}")

    # The agent starts while sysfs finds Placement in sync: neither writes.
    before = lab.admin.snapshot(lab.root_uuid)
    start_agent(lab, lab.config("cxl-agent", "ndctl", CXL_MAP, **AGENT_OPTIONS))
    rec = lab.pp("reconcile (sysfs)", confs["sysfs"], "reconcile", "--format", "json")
    check(rec.expect(0).json["status"] == "in_sync", f"{rec.label}: {rec.json['changes']}")
    status = wait_for(lab, 180, "the agent's first cycle", lambda s: s.get("cycles", 0) >= 1)
    check(status["state"] == "in_sync", f"the agent's first cycle: {status['state']}, {status['last_error']}")
    offered = {name: (ns["resource_class"], ns["offered"], ns["health"]) for name, ns in status["namespaces"].items()}
    check(offered == {"cxl_0": (CXL, True, "ok"), "cxl_1": (CXL, True, "ok")}, f"the agent's status: {offered}")
    stop_agent(lab, "cxl-agent.log")
    check(lab.admin.snapshot(lab.root_uuid) == before, "sysfs or the agent wrote to Placement in sync")

    # A unit allocated; cxl_0 destroyed, cxl_1's dax device onlined as system RAM: both withdrawn.
    rp = lab.provider()["uuid"]
    consumer = str(uuid.uuid4())
    lab.admin.allocate(consumer, rp, {CXL: 1})
    allocated = lab.admin.held(consumer)
    lab.ok(f"ndctl destroy-namespace -f {lab.dev_of('cxl_0')}")
    ram = chardev_of(lab, lab.dev_of("cxl_1"))
    lab.ok(f"daxctl reconfigure-device --mode=system-ram {ram}")
    lab.capture("cxl-ndctl-combined-withdrawn", lab.ok(f"ndctl {NDCTL_ARGV}"))
    expected = ("namespace 'cxl_0' (label 'CXL') is not on this host",
                f"is not usable: its dax device {ram} is in system-ram mode, not devdax")
    rec = lab.pp("reconcile (ndctl)", confs["ndctl"], "reconcile")
    line = rec.expect(2).error_line()
    check(all(e in line for e in expected) and "'cxl_1'" in line, f"{rec.label}: {line!r}")
    cxl = lab.classes()[CXL]
    check(cxl == {"total": 2, "reserved": 2, "used": 1}, f"CXL with both namespaces withdrawn: {cxl}")
    check(lab.admin.held(consumer) == allocated, f"the allocation changed: {lab.admin.held(consumer)}")
    after = lab.admin.snapshot(lab.root_uuid)
    rec = lab.pp("reconcile (sysfs)", confs["sysfs"], "reconcile", "--format", "json")
    line = rec.expect(2).error_line()
    check(all(e in line for e in expected) and "'cxl_1'" in line, f"{rec.label}: {line!r}")
    check(rec.json["status"] == "error" and (rec.json["error"] or {}).get("type") == "ConfigError",
          f"{rec.label}: status {rec.json['status']}, error {rec.json['error']}")
    check(lab.admin.snapshot(lab.root_uuid) == after, "a second run with both CXL namespaces withdrawn wrote")


SCENARIOS: list[tuple[str, typing.Callable[[Lab], None]]] = [
    ("first-sync", first_sync),
    ("unusable-namespaces-refused", unusable_namespaces_are_refused),
    ("non-root", non_root),
    ("ndctl-missing-or-hanging", ndctl_missing_or_hanging),
    ("agent-with-real-signals", agent_with_real_signals),
    ("agent-hears-the-kernel", agent_hears_the_kernel),
    ("destroyed-while-allocated", destroyed_while_allocated),
    ("after-a-reboot", after_a_reboot),
    ("not-armed-dimm-withdrawn", not_armed_dimm_withdrawn),
    ("cxl-end-to-end", cxl_end_to_end),
]
