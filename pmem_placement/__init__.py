"""pmem-placement: keep the Placement service truthful about a host's persistent memory."""

import functools
from importlib import metadata as _metadata


@functools.cache
def version() -> str:
    """The version of the code running: the installed distribution's version when this process
    (or the agent's master, before it forks its worker) first asked, so that a package upgraded
    under a running agent is not reported as running ("unknown" from a bare checkout)."""
    try:
        return _metadata.version("pmem-placement")
    except _metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"
