"""Events: the agent hears of a namespace change in seconds instead of at its next cycle.

Three sources, each a file descriptor polled by one listener thread:

- the kernel's uevents (a ``NETLINK_KOBJECT_UEVENT`` socket bound to the kernel's broadcast group)
  of the subsystems a namespace change touches: ``nd`` (ndctl create-, destroy-, enable-,
  disable-namespace), ``dax`` (a dax device bound to device_dax or kmem: ``daxctl
  reconfigure-device``) and ``memory`` (the memory blocks kmem onlines);
- the health attributes the kernel announces with ``sysfs_notify`` (``ndctl monitor`` waits on
  the same): each DIMM's ``nfit/flags``, each region's ``badblocks``, each bus's ``nfit/scrub``,
  polled for ``POLLPRI``; re-listed after every burst of ``nd`` uevents (a DIMM or region that
  appears);
- with ``[pmem]discovery = file``, inotify on the file's directory and on what its path depends on
  (configuration management replaces files by rename, directories by symbolic links: ``FileWatch``).

A burst of events wakes the agent once (``Burst``): 1 s after its last event, and at most 5 s
after its first, so that an endless burst (memory onlined block by block) cannot postpone the
reconcile. Where a source cannot be had (no netlink under a sandbox, a container without the
socket, no inotify), ``open_sources`` says why and the agent runs on its interval alone.
"""

import contextlib
import ctypes
import ctypes.util
import dataclasses
import errno
import glob
import os
import select
import socket
import struct
import threading
import time
import typing

NETLINK_KOBJECT_UEVENT = 15
KERNEL_GROUP = 1
SUBSYSTEMS = frozenset({"nd", "dax", "memory"})
HEALTH_ATTRIBUTES = ("bus/nd/devices/nmem*/nfit/flags", "bus/nd/devices/region*/badblocks",
                     "bus/nd/devices/ndbus*/nfit/scrub")
QUIET = 1.0
"""Seconds without an event that end a burst."""
LONGEST = 5.0
"""Seconds after a burst's first event by which the agent is woken whatever follows."""

# inotify(7): what replaces or rewrites a file in a directory
IN_ATTRIB, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x4, 0x8, 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF, IN_IGNORED = 0x400, 0x800, 0x8000
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
# Not IN_MODIFY: a file is read once it is closed (a slow writer's half-written file is no change).
_WATCHED = (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF
            | IN_MOVE_SELF)
_INOTIFY_EVENT = struct.Struct("iIII")


@dataclasses.dataclass
class Burst:
    """When a burst of events is due to wake the agent. Pure: times are given."""

    quiet: float = QUIET
    longest: float = LONGEST
    first: float | None = None
    last: float | None = None

    def event(self, now: float) -> None:
        if self.first is None:
            self.first = now
        self.last = now

    def due_at(self) -> float | None:
        """When to wake the agent (None: no event pending)."""
        if self.first is None or self.last is None:
            return None
        return min(self.last + self.quiet, self.first + self.longest)

    def reset(self) -> None:
        self.first = self.last = None


def parse_uevent(data: bytes) -> dict[str, str]:
    """A kernel uevent (``ACTION@DEVPATH\\0KEY=VALUE\\0...``) as its keys; {} for anything else."""
    head, _, rest = data.partition(b"\0")
    if b"@" not in head:
        return {}
    fields = {}
    for item in rest.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            fields[key.decode("ascii", "replace")] = value.decode("utf-8", "replace")
    return fields


class Source:
    """One file descriptor the listener polls."""

    mask = select.POLLIN

    def fileno(self) -> int:
        raise NotImplementedError

    def read(self) -> bool:
        """Consume what is ready; True when it is an event that concerns namespaces."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Uevents(Source):
    def __init__(self) -> None:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                             NETLINK_KOBJECT_UEVENT)
        try:
            sock.bind((0, KERNEL_GROUP))
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.nd_seen = False
        """An nd uevent was read since the health attributes were last listed."""

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> bool:
        relevant = False
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return relevant
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # events were lost: act as if one concerned us
                    return True
                raise
            subsystem = parse_uevent(data).get("SUBSYSTEM")
            if subsystem in SUBSYSTEMS:
                relevant = True
                self.nd_seen = self.nd_seen or subsystem == "nd"

    def close(self) -> None:
        self.sock.close()


class Attribute(Source):
    """A sysfs attribute the kernel announces changes of with sysfs_notify (POLLPRI)."""

    mask = select.POLLPRI | select.POLLERR

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._consume()

    def _consume(self) -> None:
        # sysfs arms the notification once the attribute is read from its start
        os.lseek(self.fd, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            os.read(self.fd, 4096)

    def fileno(self) -> int:
        return self.fd

    def read(self) -> bool:
        self._consume()
        return True

    def close(self) -> None:
        os.close(self.fd)


class FileWatch(Source):
    """inotify on what [pmem]namespaces_file's contents depend on: its directory (the file written,
    replaced by rename, deleted), that directory's parent (the directory itself replaced or created
    late), and, where the path goes through symbolic links (configuration management's release
    directories, a ConfigMap's ``..data``), each link's directory and the directory of the file it
    resolves to. Watches follow the path again after every change that concerns it."""

    def __init__(self, path: str) -> None:
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        self.fd = fd
        self.path = os.path.abspath(path)
        self.name = os.path.basename(path)
        self.watches: dict[int, tuple[str, set[str]]] = {}
        """Watch descriptor -> (directory, the names in it that concern the file)."""
        try:
            self._watch()
        except OSError:
            os.close(fd)
            raise

    def _targets(self) -> dict[str, set[str]]:
        directory = os.path.dirname(self.path)
        targets: dict[str, set[str]] = {directory: {self.name}}
        targets.setdefault(os.path.dirname(directory), set()).add(os.path.basename(directory))
        real = os.path.realpath(self.path)
        if real != self.path:
            targets.setdefault(os.path.dirname(real), set()).add(os.path.basename(real))
        prefix = "/"
        for part in self.path.strip("/").split("/")[:-1]:
            prefix = os.path.join(prefix, part)
            if os.path.islink(prefix):
                targets.setdefault(os.path.dirname(prefix), set()).add(part)
        return targets

    def _watch(self) -> None:
        """(Re)watch every directory the file depends on now; at least one must be watchable."""
        watches: dict[int, tuple[str, set[str]]] = {}
        errors = []
        for directory, names in self._targets().items():
            wd = self.libc.inotify_add_watch(self.fd, os.fsencode(directory), _WATCHED)
            if wd < 0:
                errors.append(f"{directory}: {os.strerror(ctypes.get_errno())}")
                continue
            watches.setdefault(wd, (directory, set()))[1].update(names)
        for wd in set(self.watches) - set(watches):
            self.libc.inotify_rm_watch(self.fd, wd)
        if not watches:
            raise OSError(errno.ENOENT, "; ".join(errors))
        self.watches = watches

    def fileno(self) -> int:
        return self.fd

    def read(self) -> bool:
        relevant = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            offset = 0
            while offset + _INOTIFY_EVENT.size <= len(data):
                wd, mask, _, length = _INOTIFY_EVENT.unpack_from(data, offset)
                name = os.fsdecode(data[offset + _INOTIFY_EVENT.size:offset + _INOTIFY_EVENT.size + length]
                                   .rstrip(b"\0"))
                watched = self.watches.get(wd)
                relevant = relevant or bool(mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) or (
                    watched is not None and name in watched[1])
                offset += _INOTIFY_EVENT.size + length
        if relevant:
            with contextlib.suppress(OSError):  # nothing watchable right now: the next change says
                self._watch()
        return relevant

    def close(self) -> None:
        os.close(self.fd)


@dataclasses.dataclass
class Sources:
    """What the listener polls, and what could not be had (and why)."""

    uevents: Uevents | None = None
    attributes: list[Attribute] = dataclasses.field(default_factory=list)
    file: FileWatch | None = None
    unavailable: str | None = None
    sysfs_root: str = "/sys"

    def all(self) -> list[Source]:
        return [s for s in (self.uevents, self.file) if s is not None] + list(self.attributes)

    @property
    def available(self) -> bool:
        return self.uevents is not None or self.file is not None

    def describe(self) -> str:
        """``listening (...)`` or ``unavailable (why)``: the agent's status says it."""
        if not self.available:
            return f"unavailable ({self.unavailable})"
        if self.file is not None:
            return f"listening (inotify on the directory of {self.file.name})"
        return (f"listening (uevents of {', '.join(sorted(SUBSYSTEMS))}; {len(self.attributes)} health "
                "attributes)")

    def relist_attributes(self) -> None:
        """Watch every health attribute there is now (after nd uevents: DIMMs and regions come and go)."""
        for attribute in self.attributes:
            attribute.close()
        self.attributes = []
        for pattern in HEALTH_ATTRIBUTES:
            for path in sorted(glob.glob(os.path.join(self.sysfs_root, pattern))):
                with contextlib.suppress(OSError):  # gone meanwhile, or not readable: not watched
                    self.attributes.append(Attribute(path))

    def close(self) -> None:
        for source in self.all():
            source.close()
        self.uevents, self.file, self.attributes = None, None, []


def open_sources(discovery: str, namespaces_file: str | None, sysfs_root: str = "/sys") -> Sources:
    """The event sources for this discovery; ``unavailable`` says why there are none."""
    sources = Sources(sysfs_root=sysfs_root)
    try:
        if discovery == "file":
            if not namespaces_file:
                sources.unavailable = "no [pmem]namespaces_file"
                return sources
            sources.file = FileWatch(namespaces_file)
        else:
            sources.uevents = Uevents()
            sources.relist_attributes()
    except (OSError, AttributeError) as exc:  # AttributeError: no AF_NETLINK on this platform
        what = "inotify" if discovery == "file" else "netlink uevents"
        sources.unavailable = f"{what}: {getattr(exc, 'strerror', None) or exc}"
        sources.close()
    return sources


class Listener:
    """A thread that polls the sources and calls ``wake`` once per burst of relevant events."""

    def __init__(self, sources: Sources, wake: typing.Callable[[], None],
                 clock: typing.Callable[[], float] = time.monotonic,
                 failed: typing.Callable[[str], None] = lambda why: None) -> None:
        """``failed``: told why, should the listener stop on an error it did not expect (the
        agent then runs on its interval alone and says so)."""
        self.sources = sources
        self.wake = wake
        self.clock = clock
        self.failed = failed
        self.burst = Burst()
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._run, name="pmem-placement-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for fd in (self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.sources.close()

    def _poller(self) -> tuple["select.poll", dict[int, Source]]:
        poller = select.poll()
        poller.register(self._stop_r, select.POLLIN)
        by_fd = {}
        for source in self.sources.all():
            poller.register(source.fileno(), source.mask)
            by_fd[source.fileno()] = source
        return poller, by_fd

    def _run(self) -> None:
        try:
            self._listen()
        except Exception as exc:  # noqa: BLE001 - any failure ends listening, never the agent
            self.failed(f"the listener stopped: {exc}")

    def _listen(self) -> None:
        poller, by_fd = self._poller()
        while True:
            due = self.burst.due_at()
            timeout = None if due is None else max(0.0, due - self.clock()) * 1000
            ready = poller.poll(timeout)
            for fd, _ in ready:
                if fd == self._stop_r:
                    return
                source = by_fd.get(fd)
                if source is not None and source.read():
                    self.burst.event(self.clock())
            uevents = self.sources.uevents
            if uevents is not None and uevents.nd_seen:
                uevents.nd_seen = False
                self.sources.relist_attributes()
                poller, by_fd = self._poller()
            due = self.burst.due_at()
            if due is not None and self.clock() >= due:
                self.burst.reset()
                self.wake()
