"""Findings: nova's PMEM configuration, the host and Placement compared. Pure: no I/O.

Input: nova's option as nova reads it (``nova_libvirt.NovaConfig``), the host's namespaces (our
discovery, every mode), the host as nova would read it (``nova_libvirt.NovaHost``), and what
Placement holds (``PlacementPmem``). Output: a list of ``Finding``, empty when all is well.
"""

import dataclasses
import typing

from pmem_placement.audit import nova_libvirt
from pmem_placement.audit.nova_libvirt import NovaConfig
from pmem_placement.audit.nova_libvirt import NovaHost
from pmem_placement.discover.model import Namespace

KINDS = (
    "namespace_missing",
    "namespace_unusable",
    "inventory_mismatch",
    "overcommitted",
    "label_case_collision",
    "nova_start_failure",
    "reported_twice",
    "namespace_unhealthy",
)
OPTION = nova_libvirt.OPTION


@dataclasses.dataclass(frozen=True)
class Finding:
    kind: str
    resource_class: str | None
    namespace: str | None
    message: str

    def as_dict(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PlacementPmem:
    """The PMEM classes Placement holds for this host."""

    root_name: str
    totals: typing.Mapping[str, int]
    """The root provider's CUSTOM_PMEM_NAMESPACE_* inventory totals (nova's)."""
    used: typing.Mapping[str, int]
    ours: typing.Mapping[str, typing.Mapping[str, int]] = dataclasses.field(default_factory=dict)
    """The PMEM totals of every provider of ours in the tree (report mode's, today's or older),
    by provider name (``tree.classify``)."""
    others: typing.Mapping[str, typing.Mapping[str, int]] = dataclasses.field(default_factory=dict)
    """The PMEM totals of the other providers of the tree read, not ours (a provider at our uuid
    without our managed trait, one named like ours), by name."""


def findings(config: NovaConfig, namespaces: typing.Sequence[Namespace], nova_host: NovaHost,
             placement: PlacementPmem) -> list[Finding]:
    out: list[Finding] = []
    by_name: dict[str, list[Namespace]] = {}
    for ns in namespaces:
        if ns.name:
            by_name.setdefault(ns.name, []).append(ns)

    usable: dict[str, set[str]] = {e.resource_class: set() for e in config.entries}
    for entry in config.entries:
        rc = entry.resource_class
        for name in entry.names:
            present = by_name.get(name, [])
            if not present:
                out.append(Finding("namespace_missing", rc, name,
                                   f"namespace {name!r} (label {entry.label!r}) is in {OPTION} but not on this "
                                   f"host: nova keeps offering it as {rc} until nova-compute restarts"))
            elif not any(ns.usable for ns in present):
                ns = present[0]
                out.append(Finding("namespace_unusable", rc, name,
                                   f"namespace {name!r} ({ns.dev}, label {entry.label!r}) is in {OPTION} but "
                                   f"cannot be given to a guest: {ns.problem}"))
            else:
                usable[rc].add(name)
                out += _unhealthy(rc, entry.label, name, present)

    root = placement.root_name
    for rc in sorted(set(placement.totals) | set(usable)):
        total, have = placement.totals.get(rc, 0), len(usable.get(rc, ()))
        if total != have:
            why = "" if rc in usable else f" ({rc} is not in {OPTION}: changed since nova-compute started?)"
            out.append(Finding("inventory_mismatch", rc, None,
                               f"Placement offers {total} of {rc} on {root}, the host has {have} usable "
                               f"namespace{'s' if have != 1 else ''} for it{why}"))
    for rc in sorted(placement.used):
        used, have = placement.used[rc], len(usable.get(rc, ()))
        if used > have:
            out.append(Finding("overcommitted", rc, None,
                               f"{used} of {rc} are allocated on {root} but the host has only {have} usable "
                               f"namespace{'s' if have != 1 else ''} for it"))

    labels: dict[str, list[str]] = {}
    for entry in config.entries:
        if entry.label not in labels.setdefault(entry.resource_class, []):
            labels[entry.resource_class].append(entry.label)
    for rc, names in sorted(labels.items()):
        if len(names) > 1:
            listed = " and ".join(repr(n) for n in names)
            out.append(Finding("label_case_collision", rc, None,
                               f"labels {listed} all make {rc}: nova pools their namespaces in one class but "
                               "attaches a namespace only when its label equals the flavor's hw:pmem exactly, "
                               "so a guest can be given a namespace of another label and get no nvdimm device"))

    for cause_rc, cause_ns, why in nova_libvirt.start_failures(config, nova_host):
        out.append(Finding("nova_start_failure", cause_rc, cause_ns, f"nova-compute would not start: {why}"))

    out += _reported_twice(placement)
    return out


def _unhealthy(rc: str, label: str, name: str, present: typing.Sequence[Namespace]) -> list[Finding]:
    """A namespace nova hands out whose hardware may not keep what is written to it."""
    sick = [ns for ns in present if ns.usable and ns.health.state != "ok"]
    return [Finding("namespace_unhealthy", rc, name,
                    f"namespace {name!r} ({ns.dev}, label {label!r}) is in {OPTION} and nova hands it to guests, "
                    f"but {ns.health.summary}: a guest's data on it may be lost; take it out of {OPTION} and "
                    "restart nova-compute") for ns in sick[:1]]


def _reported_twice(placement: PlacementPmem) -> list[Finding]:
    ours = [Finding("reported_twice", rc, None,
                    f"{name} (pmem-placement's provider) also offers {totals[rc]} of {rc} for this host: the "
                    "host's PMEM is offered twice. Let nova report alone: 'pmem-placement remove' deletes it "
                    "once nothing is allocated from it")
            for name, totals in sorted(placement.ours.items()) for rc in sorted(totals)]
    return ours + [Finding("reported_twice", rc, None,
                           f"provider {name!r} (not pmem-placement's: it lacks CUSTOM_PMEM_PLACEMENT_MANAGED) also "
                           f"offers {totals[rc]} of {rc} for this host: the host's PMEM is offered twice; remove "
                           "its PMEM inventory (whoever wrote it), and let nova report alone")
                   for name, totals in sorted(placement.others.items()) for rc in sorted(totals)]


# Kinds whose message carries counts that move (totals, allocations): one per class.
COUNTED = ("inventory_mismatch", "overcommitted", "reported_twice")


def identity(finding: Finding) -> tuple[str, str | None, str | None, str]:
    """What a finding is about, stable while only its counts change: the agent warns once per identity."""
    message = "" if finding.kind in COUNTED else finding.message
    return finding.kind, finding.resource_class, finding.namespace, message


def counts_by_kind(found: typing.Iterable[typing.Mapping[str, typing.Any]]) -> list[tuple[str, int]]:
    """(kind, number of findings) for every kind, zeros included: the agent's metric samples."""
    kinds = [f["kind"] for f in found]
    return [(kind, kinds.count(kind)) for kind in KINDS]
