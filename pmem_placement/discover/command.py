"""Run ndctl and ndctl's cxl: the only place this project starts a process.

Fixed argument list, no shell, the executable resolved to an absolute path, a timeout that
kills the whole process group, and output read through pipes up to a size limit (no
temporary files: discovery must work without a writable directory).
"""

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import time

from pmem_placement.errors import DiscoveryError

# A host with a thousand namespaces prints about a megabyte.
MAX_OUTPUT = 64 * 1024 * 1024


class NotInstalled(DiscoveryError):
    """The executable an option names is not there."""


_INSTALL = {
    "ndctl_path": "install ndctl, or set ndctl_path, or use [pmem]discovery = sysfs",
    "cxl_path": "install ndctl's cxl tool (Debian and Ubuntu: in the package ndctl; RHEL and Fedora: cxl-cli), or set cxl_path",
}


def resolve(path: str, option: str | None = "ndctl_path") -> str:
    """The absolute path of the executable that ``[pmem]<option>`` names (``path``; option None: a
    tool of the system's)."""
    found = shutil.which(path)
    if found is None:
        if option is None:
            raise NotInstalled(f"{path} is not installed")
        raise NotInstalled(f"[pmem]{option}: {path!r} is not an executable ({_INSTALL[option]})")
    return os.path.abspath(found)


def run(path: str, timeout: float, arguments: tuple[str, ...], option: str | None = "ndctl_path") -> str:
    """Run the executable ``[pmem]<option>`` names (``path``) with ``arguments`` and return its
    standard output; a status other than 0 is an error naming its last line on stderr."""
    returncode, out, err, argv = output(path, timeout, arguments, option)
    if returncode != 0:
        lines = err.strip().splitlines()
        detail = f": {lines[-1]}" if lines else ""
        raise DiscoveryError(f"{' '.join(argv)} exited with status {returncode}{detail}")
    return out


def output(path: str, timeout: float, arguments: tuple[str, ...],
           option: str | None = "ndctl_path") -> tuple[int, str, str, list[str]]:
    """Run it and return its exit status, standard output and error, and the argv it ran.

    It runs in its own process group, killed whole when the timeout expires (a wrapper's
    children must not keep it alive). Its output is read through pipes, not temporary files, so
    discovery needs no writable directory (a hardened or freshly booted host may have none);
    at most MAX_OUTPUT bytes are kept, so a runaway ndctl cannot fill memory: more is an error.
    """
    argv = [resolve(path, option), *arguments]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, shell=False, start_new_session=True)
    except OSError as exc:
        raise DiscoveryError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    try:
        deadline = time.monotonic() + timeout
        out, out_size, err = _read_until_closed(proc, deadline, timeout)
        returncode = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise DiscoveryError(f"{' '.join(argv)} did not finish within {timeout:g} s"
                             + (" ([pmem]ndctl_timeout)" if option else "")) from exc
    finally:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    if out_size > MAX_OUTPUT:
        raise DiscoveryError(f"{argv[0]} printed {out_size} bytes, more than the {MAX_OUTPUT} accepted")
    return returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), argv


def _read_until_closed(proc: "subprocess.Popen[bytes]", deadline: float,
                       timeout: float) -> tuple[bytes, int, bytes]:
    """Read stdout and stderr until both close or ``deadline`` passes (TimeoutExpired).

    Keeps at most MAX_OUTPUT bytes of each and counts the rest, so the caller can say how much
    was printed.
    """
    assert proc.stdout is not None and proc.stderr is not None
    kept: dict[int, bytearray] = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    sizes = dict.fromkeys(kept, 0)
    with selectors.DefaultSelector() as selector:
        for fd in kept:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                sizes[key.fd] += len(chunk)
                room = MAX_OUTPUT - len(kept[key.fd])
                if room > 0:
                    kept[key.fd] += chunk[:room]
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    return bytes(kept[out_fd]), sizes[out_fd], bytes(kept[err_fd])
