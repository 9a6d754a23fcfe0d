"""Run ndctl. The only place this project starts a process.

Fixed argument list, no shell, the executable resolved to an absolute path, a timeout, and
output captured. ``--idle`` includes disabled namespaces and ``--namespaces --device-dax`` lists
every mode, so a configured namespace that cannot be used is reported with the reason why,
rather than as missing.
"""

import os
import shutil
import subprocess

from pmem_placement.discover import ndctl_json
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import DiscoveryError

ARGV = ("list", "--namespaces", "--idle", "--device-dax")


def resolve(ndctl_path: str) -> str:
    """The absolute path of the ndctl executable ([pmem]ndctl_path)."""
    found = shutil.which(ndctl_path)
    if found is None:
        raise DiscoveryError(
            f"[pmem]ndctl_path: {ndctl_path!r} is not an executable (install ndctl, or set "
            "ndctl_path, or use [pmem]discovery = sysfs)"
        )
    return os.path.abspath(found)


def run(ndctl_path: str, timeout: float) -> str:
    """Run ``ndctl list`` and return its standard output."""
    argv = [resolve(ndctl_path), *ARGV]
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            shell=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DiscoveryError(
            f"{argv[0]} did not finish within {timeout:g} s ([pmem]ndctl_timeout)"
        ) from exc
    except OSError as exc:
        raise DiscoveryError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f": {err[-1]}" if err else ""
        raise DiscoveryError(f"{' '.join(argv)} exited with status {proc.returncode}{detail}")
    return proc.stdout.decode("utf-8", "replace")


def discover(ndctl_path: str, timeout: float) -> list[Namespace]:
    return ndctl_json.parse(run(ndctl_path, timeout), source="ndctl")
