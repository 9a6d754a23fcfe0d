"""Production-shaped Placement for bench/production.py: PostgreSQL and gunicorn, on loopback only.

PostgreSQL comes from Debian's packages (installed with apt-get when missing and when running as
root; the ``main`` cluster that installation creates and starts is dropped again). The bench's
own cluster lives in a private temporary directory (mode 0700) and listens only on a Unix socket
in that directory, so its ``trust`` authentication admits only this user (and root). Placement is
the real WSGI application (``placement.wsgi.api:application``, configured by
``$OS_PLACEMENT_CONFIG_DIR/placement.conf``) under gunicorn with N synchronous worker processes,
the process model of uWSGI or mod_wsgi, on 127.0.0.1. CPU time is read from /proc (psutil) for
the server processes and their children; gunicorn's access log gives each request's wall time.

Both servers get SIGTERM from the kernel when the bench dies (PR_SET_PDEATHSIG), even by SIGKILL;
the temporary directories of a bench killed that way are removed by the next run (``sweep``).
Every ``stop`` can be called again and after a failed ``start``.
"""

import contextlib
import ctypes
import glob
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing

import psutil
import requests

VENV_BIN = pathlib.Path(sys.executable).parent
PREFIXES = ("pmem-placement-pg-", "pmem-placement-fleet-")
OWNER_FILE = "bench.pid"  # in each temporary directory: the pid of the bench that owns it


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the bench process dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def own(directory: pathlib.Path) -> None:
    (directory / OWNER_FILE).write_text(str(os.getpid()))


def sweep() -> list[str]:
    """Delete the temporary directories of earlier benches that no longer run (killed with SIGKILL)."""
    removed = []
    for prefix in PREFIXES:
        for path in glob.glob(os.path.join(tempfile.gettempdir(), prefix + "*")):
            try:
                pid = int((pathlib.Path(path) / OWNER_FILE).read_text())
            except (OSError, ValueError):
                continue  # not ours, or not yet claimed
            if pid != os.getpid() and not psutil.pid_exists(pid):
                postmaster = pathlib.Path(path) / "data" / "postmaster.pid"
                with contextlib.suppress(OSError, ValueError, IndexError):
                    if psutil.pid_exists(int(postmaster.read_text().split()[0])):
                        continue  # its server still runs: leave it to whoever started it
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, ready: typing.Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None = None,
             log: pathlib.Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s\n{tail}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, its live children and its reaped children."""
    try:
        proc = psutil.Process(pid)
        t = proc.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                c = child.cpu_times()
                total += c.user + c.system
        return total
    except psutil.Error:
        return 0.0


def _postgres_bin() -> pathlib.Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(re.findall(r"/(\d+)/bin", p)[0]))
    return pathlib.Path(found[-1]).parent if found else None


def ensure_postgres() -> pathlib.Path:
    """The directory of PostgreSQL's server programs; installs Debian's postgresql when missing."""
    bindir = _postgres_bin()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0:
        raise RuntimeError("PostgreSQL is not installed: sudo apt-get install postgresql (or run as root)")
    print("installing PostgreSQL from Debian's packages (apt-get install postgresql) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    # The package's own cluster is not used: the bench runs its own in a temporary directory.
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    bindir = _postgres_bin()
    if bindir is None:
        raise RuntimeError("apt-get install postgresql did not provide /usr/lib/postgresql/*/bin/postgres")
    # Debian's package creates a 'main' cluster and starts it on port 5432 (on a host with an init
    # system). Nothing was installed before, so that empty cluster is ours: stop it and drop it.
    version = bindir.parent.name
    if pathlib.Path(f"/etc/postgresql/{version}/main").exists():
        print(f"dropping the empty cluster {version}/main that the installation created and started", flush=True)
        subprocess.run(["pg_dropcluster", "--stop", version, "main"], check=False)
    return bindir


class PostgreSQL:
    """A private cluster in a temporary directory, reachable only by its Unix socket there."""

    def __init__(self) -> None:
        self.bindir = ensure_postgres()
        self.version = subprocess.run([str(self.bindir / "postgres"), "--version"], capture_output=True,
                                      text=True).stdout.strip()
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="pmem-placement-pg-"))  # mode 0700
        own(self.root)
        self.port = free_port()  # names the socket file: .s.PGSQL.<port>
        self.proc: subprocess.Popen[bytes] | None = None
        # initdb and postgres refuse to run as root: use the package's postgres account then.
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    def _as_owner(self) -> dict[str, typing.Any]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def start(self) -> None:
        data, log = self.root / "data", self.root / "postgres.log"
        subprocess.run([str(self.bindir / "initdb"), "-D", str(data), "-U", "placement", "-A", "trust", "-E", "UTF8",
                        "--no-instructions"], check=True, stdout=subprocess.DEVNULL, cwd=self.root,
                       **self._as_owner())
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(data), "-p", str(self.port), "-c", "listen_addresses=",
                 "-c", f"unix_socket_directories={self.root}", "-c", "max_connections=200"],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True,
                preexec_fn=_die_with_parent, **self._as_owner())
        wait_for("PostgreSQL", lambda: subprocess.run(
            [str(self.bindir / "pg_isready"), "-h", str(self.root), "-p", str(self.port)],
            capture_output=True).returncode == 0, 60, self.proc, log)

    def database(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        subprocess.run([str(self.bindir / "createdb"), "-h", str(self.root), "-p", str(self.port), "-U", "placement",
                        name], check=True, **self._as_owner())
        return f"postgresql+psycopg2://placement@/{name}?host={self.root}&port={self.port}"

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc else 0.0

    def stop(self) -> None:
        """Idempotent: stop the server if it runs, delete the directory if it exists."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


class Gunicorn:
    """The real Placement WSGI application under gunicorn, ``workers`` processes, 127.0.0.1 only."""

    start_timeout = 120.0

    def __init__(self, db_url: str, workers: int, work: pathlib.Path) -> None:
        self.workers = workers
        self.dir = work / f"placement-gunicorn-{workers}"
        self.dir.mkdir(parents=True)
        self.log = self.dir / "placement.log"
        self.access_log = self.dir / "access.log"  # "<status> <microseconds>" per request
        (self.dir / "placement.conf").write_text(
            "[DEFAULT]\n"
            f"log_file = {self.log}\n"
            "[api]\nauth_strategy = noauth2\n"
            f"[placement_database]\nconnection = {db_url}\n")
        # HOME: anything gunicorn or a library keeps in the home directory stays in the bench's.
        self.env = {**os.environ, "OS_PLACEMENT_CONFIG_DIR": str(self.dir), "HOME": str(self.dir)}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def db_sync(self) -> None:
        subprocess.run([str(VENV_BIN / "placement-manage"), "--config-dir", str(self.dir), "db", "sync"], check=True,
                       env=self.env, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        command = [str(VENV_BIN / "gunicorn"), "--workers", str(self.workers), "--worker-class", "sync",
                   "--bind", f"127.0.0.1:{self.port}", "--timeout", "120",
                   "--access-logfile", str(self.access_log), "--access-logformat", "%(s)s %(D)s"]
        if "--no-control-socket" in subprocess.run([str(VENV_BIN / "gunicorn"), "--help"], capture_output=True,
                                                   text=True).stdout:
            command.append("--no-control-socket")
        with open(self.dir / "gunicorn.log", "wb") as out:
            self.proc = subprocess.Popen(command + ["placement.wsgi.api:application"], env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True,
                                         preexec_fn=_die_with_parent)

        def all_workers_up() -> bool:
            assert self.proc is not None
            up = len(psutil.Process(self.proc.pid).children()) >= self.workers
            return up and requests.get(self.url + "/", timeout=5).status_code == 200

        try:
            wait_for(f"gunicorn with {self.workers} Placement worker{'s' if self.workers > 1 else ''}",
                     all_workers_up, self.start_timeout, self.proc, self.dir / "gunicorn.log")
        except BaseException:
            self.stop()
            raise

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc else 0.0

    def answers(self) -> tuple[dict[str, int], float]:
        """Requests answered so far by status code, and their summed wall time in seconds
        (gunicorn's access log, all workers: from reading the request to sending the answer)."""
        counts: dict[str, int] = {}
        seconds = 0.0
        if self.access_log.exists():
            for status, micros in re.findall(r"^(\d{3}) (\d+)$", self.access_log.read_text(errors="replace"), re.M):
                counts[status] = counts.get(status, 0) + 1
                seconds += int(micros) / 1e6
        return counts, seconds

    def stop(self) -> None:
        """Idempotent; also after a failed start (the master and its workers are one process group)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def versions() -> dict[str, str]:
    from importlib import metadata

    return {name: metadata.version(name) for name in ("gunicorn", "psycopg2-binary", "SQLAlchemy")}
