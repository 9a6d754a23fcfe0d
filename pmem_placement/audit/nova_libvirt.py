"""What nova's libvirt driver makes of ``[libvirt]pmem_namespaces`` and ndctl's output. Pure.

Reproduced from nova's source (master, 2026), cited by function so a reader can check:

- ``nova/virt/libvirt/driver.py`` ``LibvirtDriver.__init__`` calls ``_discover_vpmems`` once, when
  nova-compute starts; nothing re-reads the host later. Any exception stops nova-compute.
- ``_discover_vpmems`` returns at once when the option is empty. Otherwise it first reads the
  host (``_get_vpmems_on_host``), then, per entry: ``entry.split(":", 1)`` (no ``:`` is
  ``PMEMNamespaceConfigInvalid``, "doesn't follow the format"); the names are
  ``split("|")``, not stripped; a name not on the host, or configured twice, is
  ``PMEMNamespaceConfigInvalid``. The class is ``os_resource_classes.normalize_name(
  "PMEM_NAMESPACE_" + label)`` and namespaces are appended per class, so labels that normalise
  alike (``small``/``SMALL``) share one class while each namespace keeps its own label.
- ``_get_vpmems_on_host`` runs ``ndctl list -X`` (``nova/privsep/libvirt.py``
  ``get_pmem_namespaces``, as root through privsep); empty output is no namespaces. It iterates
  the decoded JSON, skips entries without a ``name``, and for every named entry reads
  ``daxregion.devices[0].chardev``, ``size`` and ``daxregion.align`` with no check: a bare
  object (ndctl v61 and older print one namespace so; iterating it yields its keys), a named
  namespace without ``daxregion`` (fsdax, sector, raw), a ``daxregion`` without ``devices`` or
  ``align`` (ndctl not run as root), all raise and stop nova-compute. Mode, disabled state and
  the dax device's mode (``system-ram``) are never checked.
- ``_update_provider_tree_for_vpmems`` reports each class on the compute node's root provider
  with ``total`` = its number of namespaces; ``nova/compute/resource_tracker.py``
  ``_claim_resources`` maps allocations to namespaces only for those classes on that provider;
  ``_get_ordered_vpmem_resources`` attaches a claimed namespace only when its label equals a
  label of the flavor's ``hw:pmem`` exactly (``nova/virt/hardware.py`` ``get_vpmems`` strips,
  never case-folds).
"""

import dataclasses
import json
import typing

import os_resource_classes

from pmem_placement.discover import ndctl_json

# nova/privsep/libvirt.py get_pmem_namespaces
NDCTL_ARGV = ("list", "-X")
OPTION = "[libvirt]pmem_namespaces"


@dataclasses.dataclass(frozen=True)
class NovaHost:
    """The host as nova-compute would read it at start-up."""

    names: frozenset[str]
    """Namespace names nova would find."""
    failure: str | None = None
    """Why reading ndctl's output would stop nova-compute, or None."""


def read_ndctl(text: str, align_known: bool = True) -> NovaHost:
    """nova's ``_get_vpmems_on_host`` over what ``ndctl list -X`` printed.

    ``align_known`` is False when the output came from ndctl run without root, which omits
    ``daxregion.align`` although nova's own run (as root) would see it.
    """
    if not text:
        return NovaHost(frozenset())
    try:
        data = json.loads(text)
    except ValueError as exc:
        return NovaHost(frozenset(), f"ndctl's output is not JSON ({exc})")
    if isinstance(data, dict):
        return NovaHost(frozenset(), "ndctl printed a bare object, not a list (ndctl v61 and older print a "
                                     "single namespace so): nova iterates its keys and fails")
    if not isinstance(data, list):
        return NovaHost(frozenset(), f"ndctl printed a {type(data).__name__}, not a list of namespaces")
    names: set[str] = set()
    for record in data:
        if not isinstance(record, dict):
            return NovaHost(frozenset(names), f"ndctl's list holds a {type(record).__name__}, not an object")
        name = record.get("name")
        if not name:
            continue
        failure = _unreadable(record, align_known)
        if failure:
            return NovaHost(frozenset(names), f"namespace {name!r} ({record.get('dev')}): {failure}")
        names.add(str(name))
    return NovaHost(frozenset(names))


def _unreadable(record: dict[str, typing.Any], align_known: bool) -> str | None:
    region = record.get("daxregion")
    if not isinstance(region, dict):
        return f"named, in mode {record.get('mode')}, without a daxregion"
    devices = region.get("devices")
    if not isinstance(devices, list):
        return "its daxregion lists no devices (ndctl older than v64 on this kernel)"
    if not devices or not isinstance(devices[0], dict) or "chardev" not in devices[0]:
        return "its daxregion has no dax device"
    if "size" not in record:
        return "it has no size"
    if align_known and "align" not in region:
        return "its daxregion has no align"
    return None


def as_listed_by_nova(text: str) -> str:
    """ndctl output with every mode and idle namespaces ([pmem]namespaces_file: discovery's call,
    nested under buses and regions, or the flat ``-N -i -X``) reduced to what ``ndctl list -X``
    prints on ndctl v62 and later: a flat array of the enabled devdax namespaces."""
    if not text.strip():
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        return text  # unreadable for nova too

    def listed(record: typing.Any) -> bool:
        return not isinstance(record, dict) or (
            record.get("mode") == "devdax" and record.get("state") != "disabled")

    if isinstance(data, dict) and not ndctl_json.is_container(data):
        return text if listed(data) else ""  # a bare namespace object (ndctl v61)
    kept = [r for r in ndctl_json.namespace_records(data) if listed(r)]
    return json.dumps(kept) if kept else ""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One ``LABEL:NS[|NS...]`` entry, as nova splits it."""

    label: str
    resource_class: str
    names: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class NovaConfig:
    entries: tuple[Entry, ...]
    malformed: tuple[str, ...]
    """Entries without ':', each of which stops nova-compute."""


def parse(values: typing.Sequence[str]) -> NovaConfig:
    """The option's items (already split on ',' by oslo.config's ListOpt) as nova reads them."""
    entries, malformed = [], []
    for value in values:
        label, sep, names = value.partition(":")
        if not sep:
            malformed.append(value)
            continue
        rc = str(os_resource_classes.normalize_name(f"PMEM_NAMESPACE_{label}"))
        entries.append(Entry(label, rc, tuple(names.split("|"))))
    return NovaConfig(tuple(entries), tuple(malformed))


def start_failures(config: NovaConfig, host: NovaHost) -> list[tuple[str | None, str | None, str]]:
    """Every cause that would stop nova-compute at start-up: (resource class, namespace, why)."""
    if not config.entries and not config.malformed:
        return []  # nova returns before reading the host
    causes: list[tuple[str | None, str | None, str]] = []
    if host.failure:
        causes.append((None, None, f"nova cannot read ndctl's output: {host.failure}"))
    for value in config.malformed:
        causes.append((None, None, f"{OPTION} entry {value!r} does not follow the format LABEL:NS[|NS...]"))
    seen: set[str] = set()
    for entry in config.entries:
        for name in entry.names:
            if name not in host.names and not host.failure:
                causes.append((entry.resource_class, name,
                               f"namespace {name!r} (label {entry.label!r}) is not among the enabled "
                               "devdax namespaces 'ndctl list -X' prints"))
            if name in seen:
                causes.append((entry.resource_class, name,
                               f"namespace {name!r} is configured twice in {OPTION}"))
            seen.add(name)
    return causes
