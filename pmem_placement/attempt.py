"""What one reconcile attempt wants and what it read: plain values passed between its steps.

``Goal`` is this host's wish given the compute node found (the desired provider, today's
assignment of namespaces, the memory of what consumers may hold); ``Seen`` is what the read step
found in the compute node's tree, updated by the plan's re-read and by the apply step.
"""

import dataclasses
import typing

from pmem_placement import desired as desired_mod
from pmem_placement import fence as fence_mod
from pmem_placement import plan as plan_mod
from pmem_placement.desired import Current
from pmem_placement.desired import Identity
from pmem_placement.state import Cache
from pmem_placement.tree import Root


@dataclasses.dataclass(frozen=True)
class HostSpec:
    """What this host wants in Placement, from configuration and discovery."""

    host: str
    root_uuid: str | None
    classes: typing.Mapping[str, int]
    """Resource class -> number of configured namespaces; empty when nothing is configured."""
    traits: frozenset[str]
    namespaces: typing.Mapping[str, typing.Sequence[str]] | None = None
    """Resource class -> the names of its namespaces; None when not known (then the remap rule
    falls back to counts)."""
    uuids: typing.Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Namespace name -> its uuid, where discovery knows it."""
    withdrawn: typing.Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """Resource class -> why each of its configured namespaces that is not offered (missing,
    unusable, unhealthy) is not: their units are reserved, and only writes that lower the offer
    are made."""
    problems: tuple[str, ...] = ()
    """Why each of them is withdrawn: the run fails with them (exit 2) after those writes."""
    warnings: tuple[str, ...] = ()
    """Unhealthy namespaces offered all the same ([pmem]unhealthy = offer)."""
    report: typing.Mapping[str, typing.Mapping[str, typing.Any]] = dataclasses.field(default_factory=dict)
    """Configured namespace -> offered or not, its health and why (``Resolution.report``)."""

    @property
    def lookup(self) -> str:
        return f"uuid:{self.root_uuid}" if self.root_uuid else f"name:{self.host}"


@dataclasses.dataclass(frozen=True)
class Goal:
    """What this host wants of Placement, given the compute node found."""

    want: desired_mod.Desired | None
    assignment: dict[str, frozenset[str]] | None
    """Resource class -> its namespaces today; None when not known."""
    previous: plan_mod.Holders | None
    """The namespaces each class's consumers may hold, as remembered; None when not known."""
    uuids: typing.Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Today's namespaces' uuids, by name."""
    problems: tuple[str, ...] = ()
    """Why configured namespaces are withdrawn (``HostSpec.problems``): only lowering writes."""

    @classmethod
    def of(cls, spec: HostSpec, root: Root, cache: Cache, asserted: bool = False) -> "Goal":
        """``asserted``: the operator says today's mapping is the one the consumers were placed under."""
        assignment = None if spec.namespaces is None else {
            rc: frozenset(names) for rc, names in spec.namespaces.items() if rc in spec.classes}
        want = desired_mod.desired(root.uuid, root.name, spec.classes, spec.traits, root.today(), assignment,
                                   spec.withdrawn)
        previous = cache.holders
        if asserted and assignment is not None and previous is None:
            previous = dict(assignment)  # only what is unknown is asserted; the memory stays
        return cls(want, assignment, previous, spec.uuids, spec.problems)

    def fence(self, root_name: str, foreign: typing.Mapping[str, frozenset[str]]) -> str | None:
        # Nothing configured here: ours offers nothing anyway (classes in use retired, the rest
        # removed), so there is nothing to fence, and handing PMEM over to nova ends cleanly.
        return fence_mod.reason(root_name, foreign) if self.want is not None else None


@dataclasses.dataclass
class Seen:
    """What one attempt read of the compute node's tree; the plan's re-read updates it."""

    root: Root
    ident: Identity
    current: Current | None
    """Today's provider, None when it does not exist; its usages None when not read."""
    others: list[typing.Mapping[str, typing.Any]]
    stale: list[Current]
    """Older PMEM providers of ours, with usages."""
    foreign: dict[str, frozenset[str]]
    fence: str | None
    failsafe: plan_mod.FailSafe | None = None
    recreated: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    usages_read: bool = False
    """Whether today's provider's usages were read by this attempt (not remembered)."""
    held_back: list[str] = dataclasses.field(default_factory=list)
    """Classes whose offer the plan would raise, kept as they are while namespaces are withdrawn."""

    def may_be_held(self, cache: Cache) -> bool:
        """Whether a consumer may hold a namespace of this host (the memory then matters)."""
        current = self.current
        in_use = current is not None and (current.usages is None or any(n > 0 for n in current.usages.values()))
        return in_use or bool(self.stale) or bool(cache.failsafe)
