"""The errors an operator can meet: each a kind with its exit status, its agent state and its
metrics label. This module is the one registry of them.

Expected failures are instances of ``PmemPlacementError`` and become one readable line;
anything else is a bug and keeps its traceback. Every subclass (here, in
``placement/errors.py``, anywhere) registers its kind when it is defined; the agent's problems
that are not exceptions (a file it cannot write, another writer, audit findings) are
registered below. A kind's name is what the agent's status (``last_error.kind``) and the
metrics (``pmem_placement_errors_total{kind}``) carry: names never change once released.

The ground floor: imports nothing of the project.
"""

import dataclasses
import re
import typing

EXIT_OK, EXIT_SYNC, EXIT_CONFIG, EXIT_WOULD_CHANGE = 0, 1, 2, 3
ERROR, DEGRADED = "error", "degraded"
"""The agent's state for a kind: ``error`` when an operator has to act, ``degraded`` when it
is expected to pass by itself."""


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    """The label in the agent's status and metrics: snake_case."""
    exit_status: int
    agent_state: str


KINDS: dict[str, Kind] = {}


def register(name: str, exit_status: int, agent_state: str) -> Kind:
    kind = Kind(name, exit_status, agent_state)
    KINDS[name] = kind
    return kind


def snake(name: str) -> str:
    """'ConflictsDidNotSettle' -> 'conflicts_did_not_settle'."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class PmemPlacementError(Exception):
    """Base for expected failures."""

    exit_status = EXIT_SYNC
    agent_state = DEGRADED
    kind: typing.ClassVar[str] = "pmem_placement_error"

    def __init_subclass__(cls, **kwargs: typing.Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:  # a subclass may keep a released kind
            cls.kind = snake(cls.__name__)
            register(cls.kind, cls.exit_status, cls.agent_state)


def kind_of(exc: BaseException) -> Kind:
    """The kind of any exception; one that is not ours is a bug: an operator has to look."""
    if isinstance(exc, PmemPlacementError):
        return KINDS[type(exc).kind]
    return Kind(snake(type(exc).__name__), EXIT_SYNC, ERROR)


class ConfigError(PmemPlacementError):
    """The configuration is invalid. Nothing is written."""

    exit_status = EXIT_CONFIG
    agent_state = ERROR


class NamespacesWithdrawn(ConfigError):
    """Configured namespaces are not there, not usable or not healthy: their units were
    withdrawn (only writes that lower the offer), nothing else changed. ``outcome`` holds what
    this run wrote (a ``reconcile.Outcome``). Its kind stays ``config_error``, as released."""

    kind = "config_error"

    def __init__(self, message: str, outcome: typing.Any = None) -> None:
        super().__init__(message)
        self.outcome = outcome


class DiscoveryError(PmemPlacementError):
    """The namespaces on the host could not be discovered. Nothing is written."""

    exit_status = EXIT_CONFIG
    agent_state = ERROR


class ParseError(DiscoveryError):
    """ndctl output or a sysfs attribute could not be understood."""


class SyncError(PmemPlacementError):
    """Placement could not be brought in sync with the host."""

    exit_status = EXIT_SYNC


class RootProviderNotFound(SyncError):
    """The compute node's resource provider does not exist (yet)."""


class ComputeNodeNearMiss(RootProviderNotFound):
    """No compute node of [DEFAULT]host's name, but one of a nearly equal name (the short name for
    an FQDN, another case): [DEFAULT]host is likely wrong, which only an operator can tell."""

    agent_state = ERROR


class NameTooLong(SyncError):
    """The compute node was renamed to a name that leaves no room for the PMEM provider's: the
    provider is kept as it is."""

    agent_state = ERROR


class DoubleCounting(SyncError):
    """nova already reports one of our classes on the compute node provider."""

    agent_state = ERROR


class Fenced(DoubleCounting):
    """Another provider of the compute node's tree reports PMEM (nova's [libvirt]pmem_namespaces):
    ours was fenced (every class reserved = total), or not created. ``outcome`` holds what this
    run wrote to fence it (a ``reconcile.Outcome``)."""

    def __init__(self, message: str, outcome: typing.Any = None) -> None:
        super().__init__(message)
        self.outcome = outcome


class ForeignProvider(SyncError):
    """A provider that pmem-placement does not manage stands where its provider should."""

    agent_state = ERROR


class NameTaken(SyncError):
    """Another compute node's PMEM provider still holds the name ours should have (two hosts
    swapped names): ours was updated under a temporary name, renamed by a later run."""


class ConflictsDidNotSettle(SyncError):
    """Concurrent writers kept changing the provider for every attempt."""


class MemoryNotRecorded(SyncError):
    """state.json could be neither replaced nor removed before a write to Placement while
    consumers may hold namespaces: a later run would trust a memory that is no longer true."""

    agent_state = ERROR


class LockTimeout(SyncError):
    """Another writer held the state directory's lock longer than --lock-timeout."""


class OutputError(PmemPlacementError):
    """The result could not be written to stdout (a full disk, a closed file)."""


class Interrupted(PmemPlacementError):
    """Interrupted (Ctrl-C, SIGINT) before the run finished."""

    exit_status = 130


# The agent's problems that are not exceptions.
ANOTHER_WRITER = register("another_writer", EXIT_OK, ERROR)
"""Our provider keeps being changed by another writer; each run sets it back: a fight, which
only an operator ends."""
AUDIT_FINDINGS = register("audit_findings", EXIT_SYNC, ERROR)
STATE_FILE_NOT_WRITABLE = register("state_file_not_writable", EXIT_OK, ERROR)
STATUS_FILE_NOT_WRITABLE = register("status_file_not_writable", EXIT_OK, ERROR)
METRICS_FILE_NOT_WRITABLE = register("metrics_file_not_writable", EXIT_OK, ERROR)


def cannot_write(option: str, path: str, exc: Exception) -> str:
    """The one wording of a local file that could not be written (an OSError, or an error that
    says why in ``strerror`` too)."""
    return f"{option}: cannot write {path}: {getattr(exc, 'strerror', None) or exc}"
