"""Run the end-to-end scenarios: ``python -m tests.e2e.run --kernel K --initrd I``.

Starts a real openstack-placement on the host's loopback, boots the guest, runs every scenario and
prints ``PASS name`` or ``FAIL name: why`` for each, then ``N passed, M failed``. Exits 0 only when
the guest booted and every scenario passed. A guest that cannot boot is one FAIL line saying why.
"""

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--initrd", required=True)
    parser.add_argument("--work", help="working directory (default: a new temporary one, removed after)")
    parser.add_argument("--boot-timeout", type=float, default=300)
    parser.add_argument("--only", action="append", help="run only these scenarios (and those before them)")
    parser.add_argument("--save-captures", action="store_true", help=f"write real outputs into {CAPTURED}")
    args = parser.parse_args()

    work = args.work or tempfile.mkdtemp(prefix="pmem-placement-e2e-", dir="/var/tmp")
    os.makedirs(work, exist_ok=True)
    placement = EmbeddedPlacement(os.path.join(work))
    placement.start()
    guest = machine.Machine(work, args.kernel, args.initrd, placement.port)
    passed = failed = 0
    started = time.monotonic()
    try:
        try:
            seconds = guest.boot(args.boot_timeout)
        except machine.BootError as exc:
            print(f"FAIL boot: {exc}", flush=True)
            print(f"# the guest's console is kept in {guest.console}")
            print("0 passed, 1 failed")
            return 1
        print(f"# guest ready in {seconds:.0f} s (console: {guest.console})", flush=True)
        admin = lab_mod.Admin(placement.url)
        lab = lab_mod.Lab(guest, admin, HOST, admin.create_compute_node(HOST))
        selected = scenarios.SCENARIOS
        if args.only:
            last = max(i for i, (name, _) in enumerate(selected) if name in args.only)
            selected = selected[: last + 1]
        for name, scenario in selected:
            t0 = time.monotonic()
            try:
                scenario(lab)
            except lab_mod.Failed as exc:
                failed += 1
                print(f"FAIL {name}: {exc}", flush=True)
            except Exception as exc:  # a bug in the scenario or the lab: still one line, details in the log
                failed += 1
                with open(os.path.join(work, "errors.log"), "a") as f:
                    traceback.print_exc(file=f)
                print(f"FAIL {name}: {type(exc).__name__}: {exc} (see {work}/errors.log)", flush=True)
            else:
                passed += 1
                print(f"PASS {name} ({time.monotonic() - t0:.0f} s)", flush=True)
        if args.save_captures:
            os.makedirs(CAPTURED, exist_ok=True)
            for name, text in lab.captures.items():
                with open(os.path.join(CAPTURED, name + ".txt"), "w") as f:
                    f.write(text)
    finally:
        guest.poweroff()
        placement.stop()
    print(f"# {time.monotonic() - started:.0f} s in all", flush=True)
    print(f"{passed} passed, {failed} failed")
    if not args.work and failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    elif failed:
        print(f"# the guest's console and files are kept in {work}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
