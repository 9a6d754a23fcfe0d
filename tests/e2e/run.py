"""Run the end-to-end scenarios: ``python -m tests.e2e.run --kernel K --initrd I``.

Starts a real openstack-placement on the host's loopback, boots the guest, runs every scenario and
prints ``PASS name`` or ``FAIL name: why`` for each, then ``N passed, M failed``. Exits 0 only when
the guest booted and every scenario passed. A guest that cannot boot is one FAIL line saying why;
so is anything else that stops the run, and the final line is always printed. Past ``--deadline``
the scenario running is cut short and the remaining ones fail, one line each.
"""

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback

from pmem_placement.embedded import EmbeddedPlacement
from tests.e2e import lab as lab_mod
from tests.e2e import machine
from tests.e2e import scenarios

HOST = "compute-e2e"
CAPTURED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "captured")
BULKY = (".img", ".sqlite")  # what a failed run does not leave in its working directory: the rest is logs


class Report:
    def __init__(self) -> None:
        self.passed = self.failed = 0

    def ok(self, name: str, seconds: float) -> None:
        self.passed += 1
        print(f"PASS {name} ({seconds:.0f} s)", flush=True)

    def fail(self, name: str, why: str) -> None:
        self.failed += 1
        print(f"FAIL {name}: {why}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--initrd", required=True)
    parser.add_argument("--work", help="working directory, new or empty (default: a new temporary one, "
                                       "removed after a run that passed)")
    parser.add_argument("--boot-timeout", type=float, default=300)
    parser.add_argument("--deadline", type=float, default=1200,
                        help="seconds for the whole run (default: %(default)g); past it, what remains fails")
    names = [name for name, _ in scenarios.SCENARIOS]
    parser.add_argument("--only", action="append", default=[], metavar="SCENARIO",
                        help=f"run only these scenarios (and those before them): {', '.join(names)}")
    parser.add_argument("--save-captures", action="store_true", help=f"write real outputs into {CAPTURED}")
    args = parser.parse_args()
    started = time.monotonic()
    report = Report()
    unknown = [name for name in args.only if name not in names]
    if unknown:
        report.fail("setup", f"--only {unknown[0]}: no such scenario (there are {', '.join(names)})")
        print("0 passed, 1 failed")
        return 1
    try:
        work = _work_dir(args.work)
    except OSError as exc:
        report.fail("setup", f"--work {args.work}: {exc.strerror or exc}")
        print("0 passed, 1 failed")
        return 1
    try:
        _run(args, work, started, report)
    except Exception as exc:  # the lab itself broke (Placement, QEMU): one line, details in the log
        with open(os.path.join(work, "errors.log"), "a") as f:
            traceback.print_exc(file=f)
        report.fail("setup", f"{type(exc).__name__}: {exc} (see {work}/errors.log)")
    print(f"# {time.monotonic() - started:.0f} s in all", flush=True)
    print(f"{report.passed} passed, {report.failed} failed", flush=True)
    if report.failed == 0 and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    elif report.failed:
        _keep_logs_only(work)
        print(f"# the guest's console and the commands' files are kept in {work}")
    return 0 if report.failed == 0 else 1


def _work_dir(work: str | None) -> str:
    """A new temporary directory, or ``work`` when new or empty (old NVDIMM images are never reused)."""
    if not work:
        return tempfile.mkdtemp(prefix="pmem-placement-e2e-", dir="/var/tmp")
    os.makedirs(work, exist_ok=True)
    if os.listdir(work):
        raise OSError(0, "not empty (a run needs a new or empty directory)")
    return work


def _run(args: argparse.Namespace, work: str, started: float, report: Report) -> None:
    # Placement's own warnings (e.g. a provider over capacity, which a scenario makes on purpose)
    # go to a file: the output is one line per scenario.
    logging.basicConfig(filename=os.path.join(work, "placement.log"), level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    placement = EmbeddedPlacement(work)
    placement.start()
    guest = machine.Machine(work, args.kernel, args.initrd, placement.port)
    guest.deadline = started + args.deadline
    try:
        try:
            seconds = guest.boot(args.boot_timeout)
        except machine.BootError as exc:
            report.fail("boot", str(exc))
            print(f"# the guest's console is kept in {guest.console}")
            return
        print(f"# guest ready in {seconds:.0f} s (console: {guest.console})", flush=True)
        admin = lab_mod.Admin(placement.url)
        lab = lab_mod.Lab(guest, admin, HOST, admin.create_compute_node(HOST))
        lab.keep_captures = args.save_captures
        selected = scenarios.SCENARIOS
        if args.only:
            last = max(i for i, (name, _) in enumerate(selected) if name in args.only)
            selected = selected[: last + 1]
        for name, scenario in selected:
            if time.monotonic() >= guest.deadline:
                report.fail(name, f"not run: the run's deadline ({args.deadline:g} s) has passed")
                continue
            t0 = time.monotonic()
            try:
                scenario(lab)
            except lab_mod.Failed as exc:
                report.fail(name, str(exc))
            except Exception as exc:  # a bug in the scenario or the lab: still one line, details in the log
                with open(os.path.join(work, "errors.log"), "a") as f:
                    traceback.print_exc(file=f)
                report.fail(name, f"{type(exc).__name__}: {exc} (see {work}/errors.log)")
            else:
                report.ok(name, time.monotonic() - t0)
        if args.save_captures:
            os.makedirs(CAPTURED, exist_ok=True)
            for name, text in lab.captures.items():
                with open(os.path.join(CAPTURED, name + ".txt"), "w") as f:
                    f.write(text)
    finally:
        guest.poweroff()
        placement.stop()


def _keep_logs_only(work: str) -> None:
    """Remove what is big and useless after the run (the NVDIMM images, the database)."""
    for root, _, files in os.walk(work):
        for name in files:
            if name.endswith(BULKY):
                os.remove(os.path.join(root, name))


if __name__ == "__main__":
    sys.exit(main())
