"""Reading the compute node's tree from Placement: GET requests only.

``find_root`` finds the compute node; ``pmem_in_tree`` reads the PMEM inventory of every
provider of its tree and asks ``tree.classify`` whose it is (``show``, ``check``, ``audit``).
``reconcile`` reads the same tree more sparingly, trusting what it remembers (``reads``).
"""

import socket
import typing
import urllib.parse

from pmem_placement import mapping
from pmem_placement import tree as tree_mod
from pmem_placement.errors import ComputeNodeNearMiss
from pmem_placement.errors import ConfigError
from pmem_placement.errors import RootProviderNotFound
from pmem_placement.placement.client import Client
from pmem_placement.tree import Root


def find_root(client: Client, host: str, root_uuid: str | None, cached_uuid: str | None = None) -> Root:
    """The compute node provider: by [pmem]root_provider_uuid, else by its name ``host``. A uuid
    remembered from an earlier run saves the name lookup while it still names ``host``."""
    if root_uuid:
        uuid, from_cache = root_uuid, False
    elif cached_uuid:
        uuid, from_cache = cached_uuid, True
    else:
        record = client.provider_by_name(host)
        if record is None:
            raise _not_found(client, host)
        uuid, from_cache = record["uuid"], False
    tree = client.tree(uuid)
    root = next((p for p in tree if p["uuid"] == uuid), None)
    if root is None or (not root_uuid and root["name"] != host):
        if from_cache:
            # The compute node was replaced or renamed since the last run: look it up again.
            return find_root(client, host, None)
        if root_uuid:
            raise RootProviderNotFound(f"resource provider {uuid} ([pmem]root_provider_uuid) does not exist in "
                                       "Placement")
        if root is not None:  # a database that compares names without case (MySQL's default) found it
            raise _near_miss(host, root["name"])
        raise RootProviderNotFound(f"resource provider {host!r} ({uuid}) was deleted from Placement while it was "
                                   "read: is nova-compute re-creating it?")
    if root_uuid and root.get("root_provider_uuid", uuid) != uuid:
        real = next((p for p in tree if p["uuid"] == root["root_provider_uuid"]), {})
        raise ConfigError(
            f"[pmem]root_provider_uuid = {uuid} is {root['name']!r}, which is not a compute node: it is a provider "
            f"under {real.get('name', '?')!r} ({root['root_provider_uuid']}): set the compute node's uuid, or unset "
            "it to find the compute node by [DEFAULT]host")
    return Root(uuid, root["name"], root["generation"], tree)


def near_names(host: str, domains: typing.Iterable[str] = ()) -> list[str]:
    """The names nova may have registered this host under when it is not ``host``: its short
    name for an FQDN; for a short name, its FQDN (as the resolver gives it, the machine's own,
    or in the domain of ``domains``, e.g. Placement's); another case."""
    full = host.rstrip(".")
    short = full.split(".")[0]
    machine = socket.gethostname()
    bases = [full, short]
    if "." not in full:
        fqdns = [socket.getfqdn(full), socket.getfqdn() if machine.split(".")[0].lower() == short.lower() else ""]
        bases += [name for name in fqdns if "." in name and name.split(".")[0].lower() == short.lower()]
        bases += [f"{short}.{domain}" for domain in domains if domain]
    if machine.split(".")[0].lower() == short.lower():
        bases += [machine, machine.split(".")[0]]
    names = bases + [spelt for base in bases for spelt in (base.lower(), base.upper(), base.capitalize())]
    return [name for name in dict.fromkeys(names) if name and name != host][:10]


def _domain(url: str | None) -> str:
    """The DNS domain of a URL's host (``placement.example.org`` -> ``example.org``), or ''."""
    name = urllib.parse.urlsplit(url or "").hostname or ""
    labels = name.split(".")
    return ".".join(labels[1:]) if len(labels) > 2 and not name.replace(".", "").isdigit() else ""


def _not_found(client: Client, host: str) -> RootProviderNotFound:
    """No provider named ``host``: the nearest names nova may have used, each looked up by name
    (never by listing every provider)."""
    found = [name for name in near_names(host, [_domain(client.endpoint)])
             if client.provider_by_name(name) is not None]
    if found:
        return _near_miss(host, found[0])
    return RootProviderNotFound(f"no resource provider named {host!r} in Placement: is nova-compute running "
                                "there, and is [DEFAULT]host the same as nova's?")


def _near_miss(host: str, name: str) -> ComputeNodeNearMiss:
    return ComputeNodeNearMiss(
        f"no resource provider named {host!r} in Placement: did you mean {name!r}? Set [DEFAULT]host "
        "to the name nova-compute registered (nova's own [DEFAULT]host, else the machine's host name)")


def pmem_in_tree(client: Client, root: Root, everyone: bool = True) -> tree_mod.PmemInTree:
    """The PMEM inventory of the providers of the tree, ours told from the others': of every
    provider, or (``everyone`` False) of the compute node and those that may be ours by their
    name or uuid (``tree.may_be_ours``; what ``audit`` needs, at a cost that does not grow with
    the tree)."""
    today = root.today().uuid
    found = tree_mod.PmemInTree()
    for p in root.tree:
        if not everyone and p["uuid"] != root.uuid and not tree_mod.may_be_ours(root.uuid, today, p):
            continue
        _, inventories = client.inventories(p["uuid"])
        totals = {rc: inv.total for rc, inv in sorted(inventories.items()) if mapping.is_pmem_class(rc)}
        if not totals:
            continue  # whoever owns it, it offers no PMEM
        traits: typing.AbstractSet[str] | None = None
        if tree_mod.needs_traits(root.uuid, today, p, frozenset(totals)):
            traits = client.traits(p["uuid"])[1]
        kind = tree_mod.classify(root.uuid, today, p, frozenset(totals), traits)
        (found.ours if kind in (tree_mod.TODAY, tree_mod.OLDER) else found.elsewhere)[p["name"]] = totals
    return found
