"""The errors an operator can meet, each with the exit status of DESIGN.md.

Expected failures are instances of these and become one readable line; anything else is a bug
and keeps its traceback.
"""

import typing

if typing.TYPE_CHECKING:
    from pmem_placement.reconcile import Outcome


class PmemPlacementError(Exception):
    """Base for expected failures."""

    exit_status = 1


class ConfigError(PmemPlacementError):
    """The configuration is invalid. Nothing is written."""

    exit_status = 2


class DiscoveryError(PmemPlacementError):
    """The namespaces on the host could not be discovered. Nothing is written."""

    exit_status = 2


class ParseError(DiscoveryError):
    """ndctl output or a sysfs attribute could not be understood."""


class SyncError(PmemPlacementError):
    """Placement could not be brought in sync with the host."""

    exit_status = 1


class RootProviderNotFound(SyncError):
    """The compute node's resource provider does not exist (yet)."""


class DoubleCounting(SyncError):
    """nova already reports one of our classes on the compute node provider."""


class Fenced(DoubleCounting):
    """Another provider of the compute node's tree reports PMEM (nova's [libvirt]pmem_namespaces):
    ours was fenced (every class reserved = total), or not created. ``outcome`` holds what this
    run wrote to fence it."""

    def __init__(self, message: str, outcome: "Outcome | None" = None) -> None:
        super().__init__(message)
        self.outcome = outcome


class ForeignProvider(SyncError):
    """A provider that pmem-placement does not manage stands where its provider should."""


class NameTaken(SyncError):
    """Another compute node's PMEM provider still holds the name ours should have (two hosts
    swapped names): ours was updated under a temporary name, renamed by a later run."""


class ConflictsDidNotSettle(SyncError):
    """Concurrent writers kept changing the provider for every attempt."""


class LockTimeout(SyncError):
    """Another writer held the state directory's lock longer than --lock-timeout."""


class OutputError(PmemPlacementError):
    """The result could not be written to stdout (a full disk, a closed file)."""

    exit_status = 1


class Interrupted(PmemPlacementError):
    """Interrupted (Ctrl-C, SIGINT) before the run finished."""

    exit_status = 130
