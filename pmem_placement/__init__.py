"""pmem-placement: keep the Placement service truthful about a host's persistent memory."""

from importlib import metadata as _metadata


def version() -> str:
    """The installed distribution's version ("unknown" when run from a bare checkout)."""
    try:
        return _metadata.version("pmem-placement")
    except _metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"
