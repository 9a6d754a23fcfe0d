"""The end-to-end guest: a real kernel under QEMU (TCG) with emulated NVDIMMs.

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


class Machine:
    def __init__(self, work: str, kernel: str, initrd: str, placement_port: int) -> None:
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
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-machine", "pc,nvdimm=on", "-cpu", "max",
                "-smp", "2", "-m", "2G,slots=4,maxmem=8G"]
        # Two DIMMs with label areas: two regions where named namespaces can be carved.
        for i in range(2):
            img = os.path.join(self.work, f"nvdimm{i}.img")
            if not os.path.exists(img):  # kept across reboots: the label areas hold the namespaces
                with open(img, "wb") as f:
                    f.truncate(1024 ** 3)
            argv += ["-object", f"memory-backend-file,id=mem{i},share=on,mem-path={img},size=1G,align=16M",
                     "-device", f"nvdimm,id=nvdimm{i},memdev=mem{i},label-size=128K"]
        argv += [
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={self.xchg},mount_tag=xchg,security_model=none,multidevs=remap",
            "-netdev", f"user,id=net0,restrict=on,guestfwd=tcp:10.0.2.100:8778-cmd:{relay}",
            "-device", "virtio-net-pci,netdev=net0",
            "-kernel", self.kernel, "-initrd", self.initrd,
            "-append", "console=ttyS0 loglevel=1 panic=-1",
            "-display", "none", "-monitor", "none", "-serial", f"file:{self.console}", "-no-reboot",
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
        """Power off and boot again with the same NVDIMM backing files; seconds to ready."""
        self.poweroff()
        return self.boot(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


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
