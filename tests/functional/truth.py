"""The invariant every run must leave behind, checked from Placement's side, independently of
pmem_placement's own code; and a fork of Placement's history (its sqlite database restored)."""

import contextlib
import sqlite3
import typing

PMEM = "CUSTOM_PMEM_NAMESPACE_"


def pmem_view(admin, root: str) -> dict[str, dict[str, tuple[int, int, int]]]:
    """Provider name -> PMEM class -> (total, reserved, used), over the compute node's tree."""
    view = {}
    for rp in admin.tree(root):
        inventories = admin.inventories(rp["uuid"])
        usages = admin.call("GET", f"/resource_providers/{rp['uuid']}/usages")["usages"]
        view[rp["name"]] = {rc: (inv["total"], inv["reserved"], usages.get(rc, 0))
                            for rc, inv in inventories.items() if rc.startswith(PMEM)}
    return view


def offered(admin, root: str) -> int:
    """sum over classes and providers of max(used, total - reserved)."""
    return sum(max(used, total - reserved) for classes in pmem_view(admin, root).values()
               for total, reserved, used in classes.values())


def offering(admin, root: str) -> list[str]:
    """The providers that offer PMEM (some class with total > reserved)."""
    return sorted(name for name, classes in pmem_view(admin, root).items()
                  if any(total > reserved for total, reserved, _ in classes.values()))


def assert_truthful(admin, root: str, usable: int) -> None:
    """The invariant: Placement never offers more namespaces than the host has configured and
    usable, and at most one provider offers PMEM for the host."""
    view = pmem_view(admin, root)
    assert offered(admin, root) <= usable, view
    assert len(offering(admin, root)) <= 1, view


def assert_fenced(admin, root: str, ours: str) -> None:
    """Our provider (if any) offers nothing: every class reserved = total."""
    view = pmem_view(admin, root)
    assert all(total == reserved for total, reserved, _ in view.get(ours, {}).values()), view


@contextlib.contextmanager
def forked_history(placement) -> typing.Iterator[None]:
    """Copy Placement's database now; on leaving, restore the copy: every write made in
    between is lost, as after a restore from backup or a failover to a replica that lost writes.
    (Only data the test made in between is lost: the tests of a session run one at a time.)"""
    path = placement._db
    copy = sqlite3.connect(":memory:")
    with contextlib.closing(sqlite3.connect(path)) as live:
        live.backup(copy)
    yield
    with contextlib.closing(sqlite3.connect(path)) as live:
        copy.backup(live)
    copy.close()
