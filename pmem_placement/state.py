"""The state directory: one writer per host, and what the last run saw.

``lock()`` is an exclusive flock on ``<state_dir>/lock``, held for a whole reconcile, so the agent
and a one-shot on the same host never interleave their writes. ``state.json`` remembers the
compute node's uuid and the PMEM provider exactly as last read or written, with its generation:
when Placement still reports that generation, nothing on the provider has changed (every change
to inventory, traits or new allocations bumps it), so a run with nothing to do costs one request.
Usages are remembered with the generation they were read at: deleting an allocation does not bump
it, so at that generation they are at least today's (a reservation they keep is released late, at
the next full read, never too early). The other
providers of the tree are remembered with their generation and their PMEM classes (fencing).
A generation proves nothing once Placement's history forks (a database restored from a backup),
so ``verified_at`` says when the agent last read everything in full; the one-shot never trusts
this file for what it reports. All of that is a cache: losing it costs requests.

The **memory** is more: ``holders`` remembers, per class, the namespaces its consumers may hold
(the remap rule), ``uuids`` each of those namespaces' uuid, and ``failsafe`` the consumers that
were placed while the memory was unknown. It belongs to the compute node (``root_uuid``), not to
how Placement is reached or how the compute node is found: it survives another endpoint URL,
another lookup, ``remove`` and a write stopped half-way. Losing it is never unsafe, because an
unknown memory is filled by the fail-safe rule (``plan.failsafe_units``): what it costs is
reservations until the consumers of that moment are gone. ``memory_lost`` says why it is unknown
(missing, unreadable, corrupt, or written by a newer version).
"""

import contextlib
import dataclasses
import fcntl
import json
import os
import time
import typing

from oslo_log import log as logging

from pmem_placement.desired import Current
from pmem_placement.desired import Identity
from pmem_placement.desired import Inventory
from pmem_placement import errors
from pmem_placement import statedir
from pmem_placement.errors import LockTimeout

LOG = logging.getLogger(__name__)

_VERSION = 5  # 2: root_classes; 3: others, verified_at; 4: holders; 5: uuids, failsafe; memory kept across endpoints
_MIGRATED = (4,)
"""Older versions whose memory (``holders``) is read as it is: an upgrade keeps it."""


@dataclasses.dataclass
class Cache:
    endpoint: str
    lookup: str
    """How the compute node was found: 'name:<host>' or 'uuid:<uuid>'."""
    root_uuid: str
    others: dict[str, tuple[int, frozenset[str]]] = dataclasses.field(default_factory=dict)
    """Providers of the tree that are not ours (the root included): uuid -> (generation as last
    listed, its CUSTOM_PMEM_NAMESPACE_* classes then)."""
    child: Current | None = None
    foreign_writes: int = 0
    """Consecutive runs that found the provider's inventory or traits changed by another writer."""
    verified_at: float | None = None
    """When (clock seconds) everything was last read in full, trusting nothing remembered."""
    holders: dict[str, frozenset[str]] | None = None
    """Resource class -> the namespaces its consumers may hold, as of the last run (the remap
    rule); None when not known."""
    uuids: dict[str, str] = dataclasses.field(default_factory=dict)
    """Namespace name -> its uuid when last seen, for the namespaces in ``holders``."""
    failsafe: dict[str, dict[str, int]] | None = None
    """Consumer -> class -> units: the consumers that held PMEM when the memory was found
    unknown; they may hold any configured namespace (``plan.failsafe_units``). None: none."""
    failsafe_why: str | None = None
    """Why the memory was unknown when the fail-safe began."""

    def memory(self, endpoint: str, lookup: str) -> "Cache":
        """Only what belongs to the compute node, for a run that reaches it another way."""
        return Cache(endpoint, lookup, self.root_uuid, holders=self.holders, uuids=dict(self.uuids),
                     failsafe=self.failsafe, failsafe_why=self.failsafe_why)


def _current_to_json(cur: Current) -> dict[str, typing.Any]:
    data = {
        "uuid": cur.identity.uuid,
        "name": cur.identity.name,
        "parent_uuid": cur.identity.parent_uuid,
        "generation": cur.generation,
        "inventories": {rc: inv.as_dict() for rc, inv in cur.inventories.items()},
        "traits": sorted(cur.traits),
    }
    if cur.usages is not None:
        data["usages"] = dict(sorted(cur.usages.items()))
    return data


def _current_from_json(data: dict[str, typing.Any]) -> Current:
    return Current(
        identity=Identity(data["uuid"], data["name"], data["parent_uuid"]),
        generation=int(data["generation"]),
        inventories={rc: Inventory.from_api(rec) for rc, rec in data["inventories"].items()},
        traits=frozenset(data["traits"]),
        usages=None if data.get("usages") is None else {str(rc): int(n) for rc, n in data["usages"].items()},
    )


_NAME = "state.json"


class _Newer(ValueError):
    pass


class _Older(ValueError):
    pass


def _decode(data: typing.Any, endpoint: str, lookup: str) -> Cache:
    """A state file's content as a Cache: the cache only where it was written for the same
    endpoint and lookup, the memory wherever it was written for (checked against the compute
    node found). A version without the memory (before 4) gives none."""
    version = data.get("version")
    if not isinstance(version, int) or version > _VERSION:
        raise _Newer(f"version {version!r}, this one reads up to {_VERSION}")
    if version != _VERSION and version not in _MIGRATED:
        raise _Older(f"version {version}")
    holders = None if data.get("holders") is None else {
        rc: frozenset(str(n) for n in names) for rc, names in data["holders"].items()}
    failsafe = data.get("failsafe")
    memory = Cache(endpoint, lookup, str(data["root_uuid"]), holders=holders,
                   uuids={str(n): str(u) for n, u in (data.get("uuids") or {}).items()},
                   failsafe=None if failsafe is None else {
                       str(c): {str(rc): int(n) for rc, n in held.items()} for c, held in failsafe.items()},
                   failsafe_why=data.get("failsafe_why"))
    if data["endpoint"] != endpoint or data["lookup"] != lookup:
        # Reached another way now (another URL, [DEFAULT]host or root_provider_uuid changed):
        # trust nothing but the memory; the root uuid is checked before use.
        return memory
    child = data.get("child")
    return dataclasses.replace(
        memory,
        others={u: (int(gen), frozenset(classes)) for u, (gen, classes) in data["others"].items()},
        child=_current_from_json(child) if child else None,
        foreign_writes=int(data.get("foreign_writes", 0)),
        verified_at=None if data.get("verified_at") is None else float(data["verified_at"]),
    )


class StateStore:
    """State in ``state_dir``; with ``None``, no lock and no memory (every run reads fully)."""

    def __init__(self, state_dir: str | None, lock_timeout: float | None = None,
                 on_wait: typing.Callable[[], None] | None = None) -> None:
        self.state_dir = state_dir
        self.lock_timeout = lock_timeout
        """Seconds to wait for the lock before ``LockTimeout``; None waits for ever."""
        self.on_wait = on_wait
        """Called once when the lock is held by another process and we start waiting."""
        self.problem: str | None = None
        """Why state.json could not be written last time; None once it could be."""
        self.memory_lost: str | None = None
        """Why the last ``load`` found no memory (missing, unreadable, corrupt, newer)."""
        self._warned: str | None = None
        self.load_problem: str | None = None
        """Why state.json could not be read or trusted by the last ``load``; None when it could,
        or when there was none (``memory_lost`` then says it does not exist)."""
        self.acquire: typing.Callable[[int, str], None] = lambda fd, path: self._flock(fd)
        """Takes the lock on the open lock file; the agent's waits are bounded (agent/locks.py)."""

    @property
    def _path(self) -> str:
        assert self.state_dir
        return os.path.join(self.state_dir, _NAME)

    @contextlib.contextmanager
    def lock(self) -> typing.Iterator[None]:
        if not self.state_dir:
            yield
            return
        fd = statedir.open_entry(self.state_dir, "lock", 0o640)  # a ConfigError: nothing is written
        try:
            self.acquire(fd, os.path.join(self.state_dir, "lock"))
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _flock(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if self.on_wait is not None:
                self.on_wait()
        if self.lock_timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"{self.state_dir}/lock is still held by another pmem-placement (the agent?) "
                        f"after {self.lock_timeout:g} s: nothing was written"
                    ) from None
                time.sleep(0.05)

    def load(self, endpoint: str, lookup: str) -> Cache | None:
        """What the last run remembered; None when nothing (``memory_lost`` says why)."""
        self.memory_lost = self.load_problem = None
        if not self.state_dir:
            return None
        # Warned about outside the except blocks: oslo.log appends the exception in flight.
        why = None
        try:
            text = statedir.read_entry(self.state_dir, _NAME)
        except statedir.StateDirError as exc:
            text, why = None, str(exc)
        if text is None and why is None:
            self.memory_lost = f"{self._path} does not exist"
            return None
        found = None
        if why is None:
            try:
                found = _decode(json.loads(text or ""), endpoint, lookup)
            except _Newer as exc:
                why = f"{self._path} was written by a newer pmem-placement ({exc})"
            except _Older as exc:
                why = f"{self._path} is from a pmem-placement older than 0.1's remap memory ({exc})"
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                why = f"{self._path} is corrupt ({type(exc).__name__}: {exc})"
        if why is not None:
            self._lost(why)
        return found

    def _lost(self, why: str) -> None:
        """A state file that is there but cannot be used: said once, never silently forgotten."""
        if why != self._warned:
            self._warned = why
            LOG.warning("%s: the memory of which namespaces each class's consumers may hold is unknown; "
                        "the fail-safe rule reserves for the consumers now holding PMEM", why)
        self.memory_lost = self.load_problem = why

    def save(self, cache: Cache) -> None:
        if not self.state_dir:
            return
        data = {
            "version": _VERSION,
            "endpoint": cache.endpoint,
            "lookup": cache.lookup,
            "root_uuid": cache.root_uuid,
            "others": {u: [gen, sorted(classes)] for u, (gen, classes) in sorted(cache.others.items())},
            "child": _current_to_json(cache.child) if cache.child else None,
            "foreign_writes": cache.foreign_writes,
            "verified_at": cache.verified_at,
            "holders": None if cache.holders is None else {
                rc: sorted(names) for rc, names in sorted(cache.holders.items())},
            "uuids": dict(sorted(cache.uuids.items())),
            "failsafe": cache.failsafe,
            "failsafe_why": cache.failsafe_why,
        }
        error = None
        try:
            statedir.replace_entry(self.state_dir, _NAME, json.dumps(data, indent=1, sort_keys=True) + "\n", 0o640)
        except (OSError, statedir.StateDirError) as exc:
            error = exc
        self._note_write(error)

    def clear(self) -> bool:
        """Remove state.json; whether none is left (then the next run knows it knows nothing)."""
        if not self.state_dir:
            return True
        error = None
        try:
            with statedir.opened(self.state_dir) as directory:
                directory.remove(_NAME)
        except FileNotFoundError:
            pass
        except (OSError, statedir.StateDirError) as exc:
            error = exc
        if error is not None:
            self._note_write(error)
        return error is None

    def _note_write(self, error: OSError | statedir.StateDirError | None) -> None:
        """A cache that cannot be written costs requests, never correctness: one warning line
        (once per problem, outside any except block so that no traceback is appended), and the
        run goes on. ``None``: written fine."""
        if error is None:
            self.problem = None
            return
        problem = errors.cannot_write("[agent]state_dir", self._path, error) + \
            "; the next run reads everything from Placement"
        warned = isinstance(error, statedir.StateDirError) and str(error) in (self.load_problem or "")
        if problem != self.problem and not warned:  # not twice: load warned about the file it cannot trust
            LOG.warning("%s", problem)
        self.problem = problem


def memory(state_dir: str | None) -> tuple[Cache | None, str | None]:
    """The memory in ``state_dir`` (read only, no lock), and why it is unknown when it is."""
    store = StateStore(state_dir)
    found = store.load("", "")
    return found, store.memory_lost
