"""The state directory: one writer per host, and what the last run saw.

``lock()`` is an exclusive flock on ``<state_dir>/lock``, held for a whole reconcile, so the agent
and a one-shot on the same host never interleave their writes. ``state.json`` remembers the
compute node's uuid and the PMEM provider exactly as last read or written, with its generation:
when Placement still reports that generation, nothing on the provider has changed (every change
to inventory, traits or allocations bumps it), so a run with nothing to do costs one request.
Usages are not remembered: deleting an allocation does not bump the generation. ``holders``
remembers, per class, the namespaces its consumers may hold (the remap rule); it survives a
change of how the compute node is found, and a write stopped half-way. The other
providers of the tree are remembered with their generation and their PMEM classes (fencing).
A generation proves nothing once Placement's history forks (a database restored from a backup),
so ``verified_at`` says when the agent last read everything in full; the one-shot never trusts
this file for what it reports.
The file is a cache: losing it costs requests, never correctness.
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

_VERSION = 4  # 2: root_classes; 3: others, verified_at; 4: holders


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


def _current_to_json(cur: Current) -> dict[str, typing.Any]:
    return {
        "uuid": cur.identity.uuid,
        "name": cur.identity.name,
        "parent_uuid": cur.identity.parent_uuid,
        "generation": cur.generation,
        "inventories": {rc: inv.as_dict() for rc, inv in cur.inventories.items()},
        "traits": sorted(cur.traits),
    }


def _current_from_json(data: dict[str, typing.Any]) -> Current:
    return Current(
        identity=Identity(data["uuid"], data["name"], data["parent_uuid"]),
        generation=int(data["generation"]),
        inventories={rc: Inventory.from_api(rec) for rc, rec in data["inventories"].items()},
        traits=frozenset(data["traits"]),
    )


_NAME = "state.json"


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
        self.load_problem: str | None = None
        """Why state.json could not be read or trusted by the last ``load`` (which then returned
        None, as for a missing file); None when it could, or when there was none."""
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
        if not self.state_dir:
            return None
        try:
            text = self._read()
            if text is None:
                return None
            data = json.loads(text)
            if data.get("version") != _VERSION or data["endpoint"] != endpoint:
                return None
            holders = None if data.get("holders") is None else {
                rc: frozenset(names) for rc, names in data["holders"].items()}
            if data["lookup"] != lookup:
                # Found another way now ([DEFAULT]host or root_provider_uuid changed): trust
                # nothing but what the remap rule needs; the root uuid is checked before use.
                return Cache(endpoint, lookup, data["root_uuid"], holders=holders)
            child = data.get("child")
            return Cache(
                endpoint=endpoint,
                lookup=lookup,
                root_uuid=data["root_uuid"],
                others={u: (int(gen), frozenset(classes)) for u, (gen, classes) in data["others"].items()},
                child=_current_from_json(child) if child else None,
                foreign_writes=int(data.get("foreign_writes", 0)),
                verified_at=None if data.get("verified_at") is None else float(data["verified_at"]),
                holders=holders,
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing or damaged: read everything from Placement instead

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
        }
        error = None
        try:
            statedir.replace_entry(self.state_dir, _NAME, json.dumps(data, indent=1, sort_keys=True) + "\n", 0o640)
        except (OSError, statedir.StateDirError) as exc:
            error = exc
        self._note_write(error)

    def clear(self) -> None:
        if self.state_dir:
            error = None
            try:
                with statedir.opened(self.state_dir) as directory:
                    directory.remove(_NAME)
            except FileNotFoundError:
                pass
            except (OSError, statedir.StateDirError) as exc:
                error = exc  # harmless: a remembered generation that moved is never trusted
            if error is not None:
                self._note_write(error)

    def _read(self) -> str | None:
        """state.json's text; None when there is none, or when it cannot be read or trusted:
        ``load_problem`` then says why, warned about once per problem."""
        assert self.state_dir
        problem = None
        try:
            text = statedir.read_entry(self.state_dir, _NAME)
        except statedir.StateDirError as exc:
            text, problem = None, f"{exc}; the run reads everything from Placement"
        if problem is not None and problem != self.load_problem:
            LOG.warning("%s", problem)
        self.load_problem = problem
        return text

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
