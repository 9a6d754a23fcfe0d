"""Run ndctl. The only place this project starts a process.

Fixed argument list, no shell, the executable resolved to an absolute path, a timeout that
kills ndctl's whole process group, and output captured up to a size limit. ``--idle`` includes disabled namespaces and ``--namespaces --device-dax`` lists
every mode, so a configured namespace that cannot be used is reported with the reason why,
rather than as missing.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile

from pmem_placement.discover import ndctl_json
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import DiscoveryError

ARGV = ("list", "--namespaces", "--idle", "--device-dax")
# A host with a thousand namespaces prints about a megabyte.
MAX_OUTPUT = 64 * 1024 * 1024


def resolve(ndctl_path: str) -> str:
    """The absolute path of the ndctl executable ([pmem]ndctl_path)."""
    found = shutil.which(ndctl_path)
    if found is None:
        raise DiscoveryError(
            f"[pmem]ndctl_path: {ndctl_path!r} is not an executable (install ndctl, or set "
            "ndctl_path, or use [pmem]discovery = sysfs)"
        )
    return os.path.abspath(found)


def run(ndctl_path: str, timeout: float, arguments: tuple[str, ...] = ARGV) -> str:
    """Run ``ndctl list`` (``arguments``: our fixed arguments, or the audit's copy of nova's) and return
    its standard output.

    ndctl runs in its own process group, killed whole when the timeout expires (a wrapper's
    children must not keep it alive), and writes to temporary files rather than pipes, so that
    a runaway ndctl cannot fill memory: more than MAX_OUTPUT bytes is an error.
    """
    argv = [resolve(ndctl_path), *arguments]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    shell=False, start_new_session=True)
        except OSError as exc:
            raise DiscoveryError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise DiscoveryError(f"{' '.join(argv)} did not finish within {timeout:g} s ([pmem]ndctl_timeout)") from exc
        if returncode != 0:
            err.seek(0)
            lines = err.read(MAX_OUTPUT).decode("utf-8", "replace").strip().splitlines()
            detail = f": {lines[-1]}" if lines else ""
            raise DiscoveryError(f"{' '.join(argv)} exited with status {returncode}{detail}")
        size = out.seek(0, os.SEEK_END)
        if size > MAX_OUTPUT:
            raise DiscoveryError(f"{argv[0]} printed {size} bytes, more than the {MAX_OUTPUT} accepted")
        out.seek(0)
        return out.read().decode("utf-8", "replace")


def discover(ndctl_path: str, timeout: float) -> list[Namespace]:
    return ndctl_json.parse(run(ndctl_path, timeout), source="ndctl")
