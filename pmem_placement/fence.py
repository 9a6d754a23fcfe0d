"""Fencing: PMEM reported by a provider of the compute node's tree that we do not own.

Pure: no I/O. nova's libvirt driver reports ``[libvirt]pmem_namespaces`` on the compute node's
provider, under its own labels; any ``CUSTOM_PMEM_NAMESPACE_*`` there (or on any other provider of
the tree we do not own) means the host's namespaces would be offered twice. Ours is then fenced
(``plan(..., fence=reason)``: every class reserved = total, nothing created) and the run fails
with ``message``.
"""

import typing

from pmem_placement.mapping import CLASS_PREFIX


def reason(root_name: str, foreign: typing.Mapping[str, typing.AbstractSet[str]]) -> str | None:
    """Who reports PMEM besides us (provider name -> its PMEM classes); None when nobody does."""
    if not foreign:
        return None
    return "; ".join(
        f"{'the compute node provider' if name == root_name else 'provider'} {name!r} has {', '.join(sorted(classes))}"
        for name, classes in sorted(foreign.items())
    )


def message(why: str, provider: str, exists: bool, wrote: bool, dry_run: bool, by_nova: bool = True) -> str:
    """The one line an operator reads: who reports PMEM, what to do, and what was done to ours.
    ``by_nova``: the compute node provider is among those that report PMEM (nova's option is
    named only then)."""
    if not exists:
        done = f"{provider} is not created meanwhile"
    elif not wrote:
        done = f"{provider} stays fenced meanwhile (every class reserved = total, allocations kept)"
    elif dry_run:
        done = f"{provider} would be fenced (every class reserved = total, allocations kept; dry run)"
    else:
        done = f"{provider} was fenced (every class reserved = total, allocations kept)"
    if not by_nova:
        return (
            f"{why}: another service reports PMEM in this compute node's tree and "
            f"{CLASS_PREFIX}* must be reported from one place only: stop that provider's "
            f"PMEM inventory, or set [pmem]namespaces empty here (ours is "
            f"then removed once free); {done}"
        )
    return (
        f"{why}: nova reports PMEM itself ([libvirt]pmem_namespaces is set in nova.conf) and "
        f"{CLASS_PREFIX}* must be reported from one place only: empty nova's "
        f"[libvirt]pmem_namespaces, or set [pmem]namespaces empty here (ours is "
        f"then removed once free); {done}"
    )
