"""One audit: gather nova's configuration, the host and Placement's view; compare; render.

Placement is only ever read (GET): the compute node's tree, its inventory and usages, and our
own child provider's inventory when it exists. ndctl runs twice with discovery = ndctl: our
listing (every mode, idle ones too, to say why a namespace is unusable) and nova's own
``ndctl list -X``, whose output is what nova's parser meets at start-up.
"""

import dataclasses
import json
import os
import typing

from oslo_config import cfg

from pmem_placement import mapping
from pmem_placement.conf import pmem as pmem_conf
from pmem_placement import read
from pmem_placement import errors
from pmem_placement.audit import findings as findings_mod
from pmem_placement.audit import nova_conf
from pmem_placement.audit import nova_libvirt
from pmem_placement.audit.findings import Finding
from pmem_placement.discover.model import Namespace
from pmem_placement.placement.client import Client


@dataclasses.dataclass(frozen=True)
class Result:
    host: str
    compute_node: dict[str, str] | None
    findings: list[Finding]
    error: errors.PmemPlacementError | None = None
    config: nova_libvirt.NovaConfig | None = None
    """What was compared, for ``show``: nova's option, the host's namespaces, Placement's view."""
    namespaces: list[Namespace] = dataclasses.field(default_factory=list)
    placement: findings_mod.PlacementPmem | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        return "findings" if self.findings else "ok"

    @property
    def exit_status(self) -> int:
        return {"ok": 0, "findings": 1, "error": 2}[self.status]


def discover(conf: cfg.ConfigOpts) -> tuple[list[Namespace], nova_libvirt.NovaHost]:
    """The host's namespaces (as [pmem]discovery finds them) and the host as nova reads it."""
    pmem = conf.pmem
    if pmem.discovery == "ndctl":
        from pmem_placement.discover import command
        from pmem_placement.discover import ndctl

        namespaces = ndctl.discover(pmem.ndctl_path, pmem.ndctl_timeout, pmem.cxl_path, pmem.sysfs_root,
                                     need_bus=False)
        novas = command.run(pmem.ndctl_path, pmem.ndctl_timeout, nova_libvirt.NDCTL_ARGV)
        # Without root ndctl omits daxregion.align; nova runs it as root (privsep).
        return namespaces, nova_libvirt.read_ndctl(novas, align_known=os.geteuid() == 0)
    if pmem.discovery == "file":
        from pmem_placement.discover import file

        namespaces = file.discover(pmem.namespaces_file)
        with open(pmem.namespaces_file, encoding="utf-8", errors="replace") as f:
            text = f.read()
        return namespaces, nova_libvirt.read_ndctl(nova_libvirt.as_listed_by_nova(text))
    from pmem_placement import discover as discover_mod

    namespaces = discover_mod.discover(conf)
    # sysfs has no ndctl output: nova's view from the records (names of enabled devdax namespaces).
    names = frozenset(ns.name for ns in namespaces if ns.name and ns.mode == "devdax" and not ns.disabled)
    return namespaces, nova_libvirt.NovaHost(names)


def placement_pmem(client: Client, host: str, root_uuid: str | None) -> tuple[dict[str, str], findings_mod.PlacementPmem]:
    """The compute node, and the PMEM of its tree: nova's on the compute node (with usages), and
    every provider of ours (``tree.classify``), which reports the same namespaces twice."""
    root = read.find_root(client, host, root_uuid)
    found = read.pmem_in_tree(client, root, everyone=False)
    totals = found.elsewhere.get(root.name, {})
    used = mapping.pmem_only(client.usages(root.uuid)[1]) if totals else {}
    others = {name: totals for name, totals in found.elsewhere.items() if name != root.name}
    view = findings_mod.PlacementPmem(root.name, totals, used, found.ours, others)
    return {"name": root.name, "uuid": root.uuid}, view


def audit(conf: cfg.ConfigOpts, client_factory: typing.Callable[[], Client],
          nova_files: typing.Sequence[str], nova_dirs: typing.Sequence[str] = (),
          always_discover: bool = False) -> Result:
    """Run one audit; every expected failure becomes ``Result.error``. ``always_discover``: read
    the host even when nova's option is empty (``show`` lists the host's namespaces)."""
    compute_node = None
    try:
        values = nova_conf.read(nova_files, nova_dirs)
        config = nova_libvirt.parse(values)
        root_uuid = pmem_conf.root_provider_uuid(conf)
        if not conf.host:
            raise errors.ConfigError("[DEFAULT]host is empty: set it to nova's [DEFAULT]host")
        if values or always_discover:
            namespaces, nova_host = discover(conf)
        else:  # nova reads nothing from the host then, and neither do we
            namespaces, nova_host = [], nova_libvirt.NovaHost(frozenset())
        compute_node, placement = placement_pmem(client_factory(), conf.host, root_uuid)
    except errors.PmemPlacementError as exc:
        return Result(conf.host, compute_node, [], exc)
    except OSError as exc:
        return Result(conf.host, compute_node, [], errors.DiscoveryError(str(exc)))
    found = findings_mod.findings(config, namespaces, nova_host, placement)
    return Result(conf.host, compute_node, found, None, config, namespaces, placement)


def mixed(result: Result) -> list[str]:
    """nova's classes whose namespaces differ in size or alignment (``mapping.mixed_classes``)."""
    if result.config is None:
        return []
    configured: dict[str, list[str]] = {}
    for entry in result.config.entries:
        configured.setdefault(entry.resource_class, []).extend(entry.names)
    named: dict[str, list[Namespace]] = {}
    for ns in result.namespaces:
        named.setdefault(ns.name or "", []).append(ns)
    return mapping.mixed_classes(configured, {n: nss[0] for n, nss in named.items() if n and len(nss) == 1})


def as_json(result: Result) -> str:
    error = result.error
    return json.dumps({
        "status": result.status,
        "host": result.host,
        "compute_node": result.compute_node,
        "findings": [f.as_dict() for f in result.findings],
        "error": None if error is None else {"type": type(error).__name__, "message": str(error)},
    }, indent=2)


def as_text(result: Result) -> str:
    where = result.compute_node["name"] if result.compute_node else result.host
    if not result.findings:
        return f"{where}: nova's PMEM inventory matches the host (no findings)"
    count = len(result.findings)
    lines = [f"{where}: {count} finding{'s' if count != 1 else ''}"]
    lines += [f"  {f.kind}: {f.message}" for f in result.findings]
    return "\n".join(lines)
