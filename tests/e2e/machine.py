"""The end-to-end guest: a real kernel under QEMU (TCG) with emulated NVDIMMs or a CXL memory device.

The host's ``/`` is shared read-only over 9p (the guest chroots into it to run the checkout's own
console scripts), an exchange directory read-write. The guest's /init runs, in order, the shell
scripts the host drops there (``cmd-N.sh``) and leaves ``cmd-N.out``, ``.err`` and ``.rc``.
The only network is QEMU's user-mode one with ``restrict=on``: 10.0.2.100:8778 in the guest is
relayed to Placement on the host's loopback, and nothing else leaves.
"""

import dataclasses
import os
import shlex
import subprocess
import sys
import time

PLACEMENT_IN_GUEST = "http://10.0.2.100:8778"
HERE = os.path.dirname(os.path.abspath(__file__))


class BootError(Exception):
    """The guest could not be booted; the message is one line saying why."""


@dataclasses.dataclass
class Result:
    rc: int
    out: str
    err: str
    seconds: float

    def __str__(self) -> str:
        tail = (self.err.strip().splitlines() or [""])[-1]
        return f"exit {self.rc}{': ' + tail if tail else ''}"


KINDS = ("nfit", "cxl")
CXL_PMEM_SIZE = "512M"  # the type-3 device's persistent capacity
CXL_LSA_SIZE = "256M"  # its label storage area (the size the kernel-lab recipe was measured with)
CXL_WINDOW_SIZE = "4G"  # the fixed memory window the CXL region is carved from


class Machine:
    """One guest. ``kind`` is "nfit" (``pc,nvdimm=on``, two 1 GiB NVDIMMs with label areas: region0,
    region1) or "cxl" (``q35,cxl=on``, one file-backed CXL type-3 persistent memory device with a label
    storage area, behind one host bridge and root port, with a fixed memory window: no region until
    ``cxl create-region``). Backing files live in ``work`` and are kept across reboots.

    What the CXL machine does not keep (Linux 6.1, QEMU 7.2, measured): the region is gone after a
    reboot and must be created again; ``cxl create-region`` gives it a new uuid, so the namespace
    labels kept in the label storage area are not found (made again by hand through sysfs with the
    old uuid, the nd region sees them but does not enable). Data written through the memory window
    is not kept even within a boot (reads give zeros, the backing file stays empty): a devdax
    namespace comes back ``raw`` after ``ndctl disable-namespace``/``enable-namespace``. Memory such a
    device gives the system (``daxctl reconfigure-device -m system-ram``, which needs a namespace of
    256M or more) is therefore memory that forgets what is written to it.

    ``unarmed`` (NFIT only): indexes of the NVDIMMs booted with ``unarmed=on`` (their region is
    read-only, ``nmemN/nfit/flags`` says ``not_armed``); takes effect at the next boot or reboot.
    """

    def __init__(self, work: str, kernel: str, initrd: str, placement_port: int, kind: str = "nfit") -> None:
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}: not one of {', '.join(KINDS)}")
        self.kind = kind
        self.unarmed: set[int] = set()
        self.work = work
        self.xchg = os.path.join(work, "xchg")
        os.makedirs(self.xchg)
        self.boots = 0
        self.console = ""
        self.kernel, self.initrd = kernel, initrd
        self.port = placement_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.n = 0
        self.broken = ""
        self.deadline: float | None = None  # time.monotonic() after which nothing more runs in the guest

    def time_left(self, timeout: float) -> float:
        """``timeout``, cut short by the run's deadline."""
        if self.deadline is None:
            return timeout
        return max(0.0, min(timeout, self.deadline - time.monotonic()))

    def argv(self) -> list[str]:
        # QEMU hands the command to a shell-like parser: quote it (paths with spaces).
        relay = shlex.join([sys.executable, os.path.join(HERE, "relay.py"), "127.0.0.1", str(self.port)])
        if "," in relay:
            raise BootError(f"the relay command may not contain a comma (QEMU option syntax): {relay}")
        if self.kind == "cxl":
            if self.unarmed:
                raise BootError("unarmed applies to NVDIMMs: the CXL machine has none")
            argv = self._cxl_argv()
        else:
            argv = self._nfit_argv()
        netdev = ["-netdev", f"user,id=net0,restrict=on,guestfwd=tcp:10.0.2.100:8778-cmd:{relay}"]
        # The NIC comes last in both kinds' lists: the netdev goes just before it.
        argv[-2:-2] = netdev
        argv += [
            "-kernel", self.kernel, "-initrd", self.initrd,
            "-append", "console=ttyS0 loglevel=1 panic=-1",
            "-display", "none", "-monitor", "none", "-serial", f"file:{self.console}", "-no-reboot",
        ]
        return argv

    def _backing_file(self, name: str, size: int) -> str:
        """A sparse backing file in the working directory, made once and kept across reboots (the
        NVDIMMs' label areas and namespaces, the CXL label storage area). Named ``*.img``: run.py
        does not keep those of a failed run."""
        path = os.path.join(self.work, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.truncate(size)
        return path

    def _nfit_argv(self) -> list[str]:
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-machine", "pc,nvdimm=on", "-cpu", "max",
                "-smp", "2", "-m", "2G,slots=4,maxmem=8G"]
        # Two DIMMs with label areas: two regions where named namespaces can be carved.
        for i in range(2):
            img = self._backing_file(f"nvdimm{i}.img", 1024 ** 3)
            unarmed = ",unarmed=on" if i in self.unarmed else ""
            argv += ["-object", f"memory-backend-file,id=mem{i},share=on,mem-path={img},size=1G,align=16M",
                     "-device", f"nvdimm,id=nvdimm{i},memdev=mem{i},label-size=128K{unarmed}"]
        argv += [
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={self.xchg},mount_tag=xchg,security_model=none,multidevs=remap",
            "-device", "virtio-net-pci,netdev=net0",
        ]
        return argv

    def _cxl_argv(self) -> list[str]:
        pmem = self._backing_file("cxl-pmem0.img", _bytes(CXL_PMEM_SIZE))
        lsa = self._backing_file("cxl-lsa0.img", _bytes(CXL_LSA_SIZE))
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-machine", "q35,cxl=on", "-cpu", "max",
                "-smp", "2", "-m", "2G,slots=4,maxmem=8G",
                # QEMU 7.2 names the persistent backend memdev= (later QEMUs: persistent-memdev=).
                "-object", f"memory-backend-file,id=cxl-mem0,share=on,mem-path={pmem},size={CXL_PMEM_SIZE}",
                "-object", f"memory-backend-file,id=cxl-lsa0,share=on,mem-path={lsa},size={CXL_LSA_SIZE}",
                "-device", "pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1",
                "-device", "cxl-rp,port=0,bus=cxl.1,id=root_port13,chassis=0,slot=2",
                "-device", "cxl-type3,bus=root_port13,memdev=cxl-mem0,lsa=cxl-lsa0,id=cxl-pmem0",
                "-M", f"cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size={CXL_WINDOW_SIZE}"]
        # Every other PCI device on the root bus: left to itself, QEMU plugs them into the CXL host
        # bridge ("PCI: Only PCI/PCIe bridges can be plugged into pxb-cxl").
        argv += [
            "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot,bus=pcie.0",
            "-fsdev", f"local,id=xchg,path={self.xchg},security_model=none,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=xchg,mount_tag=xchg,bus=pcie.0",
            "-device", "virtio-net-pci,netdev=net0,bus=pcie.0",
        ]
        return argv

    def console_text(self) -> str:
        try:
            with open(self.console, encoding="utf-8", errors="replace") as f:
                return f.read().replace("\r", "")
        except FileNotFoundError:
            return ""

    def boot(self, timeout: float) -> float:
        """Start QEMU and wait until the guest is ready for commands; returns the seconds it took."""
        started = time.monotonic()
        timeout = self.time_left(timeout)
        self.boots += 1
        self.console = os.path.join(self.work, f"console-{self.boots}.log")
        try:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT)
        except OSError as exc:
            raise BootError(f"cannot start QEMU: {exc}") from exc
        while time.monotonic() - started < timeout:
            text = self.console_text()
            if "===E2E-READY" in text:
                return time.monotonic() - started
            for line in text.splitlines():
                if line.startswith("===E2E-BOOT-FAILED"):
                    raise BootError("the guest could not set up: " + line.split(" ", 1)[-1])
            panic = [line for line in text.splitlines() if "Kernel panic" in line]
            if panic:
                raise BootError("the guest kernel panicked: " + panic[0].split("] ", 1)[-1].strip())
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode("utf-8", "replace") if self.proc.stdout else ""
                raise BootError(f"QEMU exited with status {self.proc.returncode}: {_last_lines(out or text)}")
            time.sleep(0.5)
        self.kill()
        raise BootError(f"the guest was not ready within {timeout:g} s: {_last_lines(self.console_text())}")

    def run(self, script: str, timeout: float = 300) -> Result:
        """Run a shell script in the guest (busybox sh, as root, outside the chroot).

        Once a script has not finished in time, or the guest has stopped, every later call fails
        at once: the guest's state is unknown, and the suite must not wait out each timeout.
        """
        if self.broken:
            raise RuntimeError(f"the guest is unusable: {self.broken}")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise RuntimeError("the run's deadline has passed")
        cut = self.time_left(timeout) < timeout
        timeout = self.time_left(timeout)
        self.n += 1
        base = os.path.join(self.xchg, f"cmd-{self.n}")
        with open(base + ".sh.tmp", "w") as f:
            f.write(script)
        os.rename(base + ".sh.tmp", base + ".sh")
        started = time.monotonic()
        while not os.path.exists(base + ".rc"):
            what = script.strip().splitlines()[0][:80] if script.strip() else "?"
            if self.proc is None or self.proc.poll() is not None:
                self.broken = f"it stopped while running {what!r}: {_last_lines(self.console_text())}"
                raise RuntimeError(f"the guest is unusable: {self.broken}")
            if time.monotonic() - started > timeout:
                self.broken = f"it did not finish {what!r} within {timeout:.0f} s"
                if cut:
                    self.broken += " (the run's deadline)"
                raise RuntimeError(f"the guest is unusable: {self.broken}")
            time.sleep(0.1)
        seconds = time.monotonic() - started
        with open(base + ".rc") as f:
            rc = int(f.read().strip())
        with open(base + ".out", encoding="utf-8", errors="replace") as f:
            out = f.read()
        with open(base + ".err", encoding="utf-8", errors="replace") as f:
            err = f.read()
        return Result(rc, out, err, seconds)

    def file(self, name: str) -> str:
        """A file the guest wrote into the exchange directory ('' when absent)."""
        try:
            with open(os.path.join(self.xchg, name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def write(self, name: str, text: str) -> str:
        """Write a file into the exchange directory; returns its path inside the chroot."""
        path = os.path.join(self.xchg, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)
        return "/run/xchg/" + name

    def poweroff(self, timeout: float = 60) -> None:
        if self.proc is None:
            return
        open(os.path.join(self.xchg, "poweroff"), "w").close()
        try:
            # A guest stuck in a command never reads the request: no use waiting for it.
            self.proc.wait(timeout=0 if self.broken else timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None
        # The next boot's /init counts its commands from 1 again.
        for name in os.listdir(self.xchg):
            if name == "poweroff" or name.startswith("cmd-"):
                os.remove(os.path.join(self.xchg, name))
        self.n = 0

    def reboot(self, timeout: float) -> float:
        """Power off and boot again with the same backing files (and the current ``unarmed``);
        seconds to ready."""
        self.poweroff()
        return self.boot(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _bytes(size: str) -> int:
    return int(size[:-1]) * 1024 ** "KMGT".index(size[-1]) * 1024


def _last_lines(text: str, n: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-n:]) or "(no output)"


def chroot(argv: list[str], user: str | None = None, path: str | None = None) -> str:
    """A guest shell command that runs ``argv`` in the host's tree, with the guest's kernel."""
    # Absolute paths: busybox's chroot would run its own env and setpriv applets otherwise.
    path = path or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env = f"/usr/bin/env -i PATH={shlex.quote(path)} HOME=/root LANG=C.UTF-8"
    prefix = f"chroot /host {env}"
    if user is not None:
        prefix += f" /usr/bin/setpriv --reuid={user} --regid={user} --clear-groups --"
    return f"{prefix} {shlex.join(argv)}"
