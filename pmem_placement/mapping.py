"""Map configured labels to resource classes and to the host's namespaces.

Pure: no I/O. The syntax is nova's [libvirt]pmem_namespaces, ``LABEL:NS[|NS...][,LABEL:...]``;
each label becomes ``CUSTOM_PMEM_NAMESPACE_<LABEL>`` normalised by os_resource_classes exactly as
nova does. Every problem is a ``ConfigError`` that names the option and the offending value.
"""

import dataclasses
import re
import typing

import os_resource_classes

from pmem_placement import near
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import ConfigError

OPTION = "[pmem]namespaces"
CLASS_PREFIX = "CUSTOM_PMEM_NAMESPACE_"
"""Every PMEM class starts so, ours and nova's alike: the one definition of it."""
UNSET = (
    f"{OPTION} is not set: list the namespaces to report (LABEL:NS[|NS...], e.g. 4GB:ns_0), or "
    "set it empty to remove the PMEM provider (is the option or its section misspelt, or the main "
    "configuration file missing from --config-file?)"
)
TRAITS_OPTION = "[pmem]traits"
UNHEALTHY_HINT = " ([pmem]unhealthy = offer would offer it all the same)"
T = typing.TypeVar("T")
MANAGED_TRAIT = "CUSTOM_PMEM_PLACEMENT_MANAGED"
# Placement's own limits for custom resource class and trait names.
_NAME_MAX = 255
_CUSTOM_TRAIT = re.compile(r"CUSTOM_[A-Z0-9_]+\Z")


@dataclasses.dataclass(frozen=True)
class Label:
    label: str
    resource_class: str
    namespace_names: tuple[str, ...]


def resource_class(label: str) -> str:
    return str(os_resource_classes.normalize_name(f"PMEM_NAMESPACE_{label}"))


def parse(value: str | None) -> list[Label]:
    """Parse the option's syntax; checks that need the host's namespaces come in ``resolve``.

    ``None`` (the option is not set at all) is an error: only an explicitly empty value means
    "report nothing", so a misspelt option or section never removes the provider.
    """
    if value is None:
        raise ConfigError(UNSET)
    labels: list[Label] = []
    by_class: dict[str, str] = {}
    seen_ns: dict[str, str] = {}
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        label, sep, names = entry.partition(":")
        label = label.strip()
        if not sep:
            raise ConfigError(f"{OPTION}: entry {entry!r} has no ':' (expected LABEL:NS[|NS...])")
        if not label:
            raise ConfigError(f"{OPTION}: entry {entry!r} has an empty label")
        if label.upper().startswith(CLASS_PREFIX):
            raise ConfigError(
                f"{OPTION}: label {label!r} is already a resource class name: write the label "
                f"alone ({label[len(CLASS_PREFIX):]!r}), it becomes {CLASS_PREFIX}<LABEL>"
            )
        ns_names = tuple(n.strip() for n in names.split("|"))
        if any(not n for n in ns_names):
            raise ConfigError(f"{OPTION}: entry {entry!r} has an empty namespace name")
        rc = resource_class(label)
        if len(rc) > _NAME_MAX:
            raise ConfigError(
                f"{OPTION}: label {label!r} makes resource class {rc[:40]}... longer than "
                f"Placement's {_NAME_MAX} characters"
            )
        if rc in by_class:
            raise ConfigError(
                f"{OPTION}: labels {by_class[rc]!r} and {label!r} both make resource class {rc}"
            )
        by_class[rc] = label
        for name in ns_names:
            if name in seen_ns:
                raise ConfigError(
                    f"{OPTION}: namespace {name!r} is listed twice (under {seen_ns[name]!r} and {label!r})"
                )
            seen_ns[name] = label
        labels.append(Label(label, rc, ns_names))
    return labels


@dataclasses.dataclass(frozen=True)
class Withdrawn:
    """A configured namespace whose unit is not offered, and why."""

    name: str
    resource_class: str
    message: str
    """One sentence naming the namespace, its label and what is wrong, with a hint."""
    reason: str = ""
    """Short: the name and what is wrong (``ns_1 is not on this host``)."""
    unhealthy: bool = False
    """Present and usable, but its hardware may not keep what is written (``Health``)."""
    drained: bool = False
    """Taken out of service by the operator ([pmem]reserved_namespaces): not a problem."""


@dataclasses.dataclass(frozen=True)
class Resolution:
    """The configured namespaces as the host has them."""

    configured: dict[str, tuple[str, ...]]
    """Resource class -> every namespace name configured for it."""
    offered: dict[str, tuple[Namespace, ...]]
    """Resource class -> its namespaces that are offered: present, usable, and healthy (or
    offered anyway by [pmem]unhealthy = offer)."""
    withdrawn: tuple[Withdrawn, ...] = ()
    offered_unhealthy: tuple[Withdrawn, ...] = ()
    """Unhealthy namespaces offered all the same ([pmem]unhealthy = offer)."""
    present: dict[str, Namespace] = dataclasses.field(default_factory=dict)
    """Configured name -> the one namespace of the host carrying it."""

    def report(self) -> dict[str, dict[str, typing.Any]]:
        """Configured name -> whether it is offered, its health and why (the agent's status)."""
        why = {w.name: w.reason for w in self.withdrawn}
        result = {}
        for rc, names in sorted(self.configured.items()):
            for name in names:
                ns = self.present.get(name)
                result[name] = {
                    "resource_class": rc, "offered": name not in why, "why": why.get(name),
                    "health": ns.health.state if ns is not None else None,
                    "health_reasons": list(ns.health.reasons) if ns is not None else [],
                    "health_notes": list(ns.health.notes) if ns is not None else [],
                }
        return result

    @property
    def problems(self) -> list[str]:
        """Why configured namespaces are withdrawn against the operator's wish (runs exit 2)."""
        return [w.message for w in self.withdrawn if not w.drained]

    @property
    def drained(self) -> list[str]:
        return [w.name for w in self.withdrawn if w.drained]

    @property
    def warnings(self) -> list[str]:
        """The unhealthy namespaces offered all the same."""
        return [w.message.split(UNHEALTHY_HINT)[0] + ": offered all the same ([pmem]unhealthy = offer)"
                for w in self.offered_unhealthy]

    def withdrawn_by_class(self) -> dict[str, tuple[str, ...]]:
        """Resource class -> why each of its configured namespaces that is not offered is not."""
        found: dict[str, tuple[str, ...]] = {}
        for w in self.withdrawn:
            found[w.resource_class] = found.get(w.resource_class, ()) + (w.reason,)
        return found


def _missing(name: str, where: str, by_name: dict[str, list[Namespace]], namespaces: list[Namespace],
             configured: typing.AbstractSet[str] = frozenset()) -> str:
    unnamed = {key: ns for ns in namespaces if not ns.name for key in (ns.dev, ns.chardev) if key}
    named = {key: ns for ns in namespaces if ns.name for key in (ns.dev, ns.chardev) if key}
    if name in unnamed:
        return (f"{where} exists but has no name: namespaces are given by name; name it with "
                f"'ndctl create-namespace -f -e {unnamed[name].dev} -m devdax -n NAME' "
                "(this destroys its data) and configure that name")
    if name in named:
        return f"{where} is the device of namespace {named[name].name!r}: namespaces are given by name, use {named[name].name!r}"
    # A near miss, but not a namespace the mapping already names elsewhere.
    close = near.nearest(name, set(by_name) - configured)
    hint = f": did you mean {close!r}?" if close else ""
    return f"{where} is not on this host{hint}"


def _verdict(label: Label, name: str, by_name: dict[str, list[Namespace]], namespaces: list[Namespace],
             configured: typing.AbstractSet[str]) -> tuple[Namespace | None, Withdrawn | None]:
    """The namespace a configured name stands for, and why it is not offered (None: it is)."""
    matches = by_name.get(name, [])
    rc = label.resource_class
    where = f"namespace {name!r} (label {label.label!r})"
    if not matches:
        message = _missing(name, where, by_name, namespaces, configured)
        return None, Withdrawn(name, rc, message, f"{name} {message.removeprefix(where + ' ').split(':')[0]}")
    if len(matches) > 1:
        devs = ", ".join(ns.dev for ns in matches)
        return None, Withdrawn(name, rc, f"namespace name {name!r} (label {label.label!r}) is ambiguous: "
                               f"{devs} all carry it", f"{name} is ambiguous ({devs})")
    ns = matches[0]
    where = f"namespace {name!r} ({ns.dev}, label {label.label!r})"
    if ns.problem:
        return ns, Withdrawn(name, rc, f"{where} is not usable: {ns.problem}", f"{name} is not usable: {ns.problem}")
    if ns.health.state != "ok":
        why = "; ".join(ns.health.reasons)
        text = f"is unhealthy: {why}" if ns.health.state == "unhealthy" else f"has a health that is not known: {why}"
        return ns, Withdrawn(name, rc, f"{where} {text}{UNHEALTHY_HINT}", f"{name} {text}", unhealthy=True)
    return ns, None


RESERVED_OPTION = "[pmem]reserved_namespaces"


def reserved(labels: list[Label], names: typing.Iterable[str]) -> frozenset[str]:
    """[pmem]reserved_namespaces checked against the mapping: each must be a configured name (a
    misspelt one would leave the namespace meant on offer)."""
    configured = {name for label in labels for name in label.namespace_names}
    chosen = frozenset(n.strip() for n in names if n.strip())
    for name in sorted(chosen - configured):
        close = near.nearest(name, configured - chosen)
        hint = f": did you mean {close!r}?" if close else ": list only names of [pmem]namespaces"
        raise ConfigError(f"{RESERVED_OPTION}: {name!r} is not in {OPTION}{hint}")
    return chosen


def _drained(label: Label, name: str, found: Namespace | None, why: Withdrawn | None) -> Withdrawn:
    where = f"namespace {name!r} ({found.dev + ', ' if found else ''}label {label.label!r})"
    also = f" ({why.reason})" if why else ""
    return Withdrawn(name, label.resource_class, f"{where} is reserved by {RESERVED_OPTION}{also}",
                     f"{name} is reserved by {RESERVED_OPTION}{also}", drained=True)


def resolve(labels: list[Label], namespaces: list[Namespace], unhealthy: str = "reserve",
            reserved_names: typing.Iterable[str] = ()) -> Resolution:
    """Each configured namespace as the host has it: offered, or withdrawn with the reason.

    ``unhealthy``: [pmem]unhealthy; ``offer`` offers an unhealthy namespace all the same.
    ``reserved_names``: [pmem]reserved_namespaces, withdrawn whatever their state (ConfigError
    for a name not configured)."""
    drain = reserved(labels, reserved_names)
    by_name: dict[str, list[Namespace]] = {}
    for ns in namespaces:
        if ns.name:
            by_name.setdefault(ns.name, []).append(ns)
    offered: dict[str, tuple[Namespace, ...]] = {}
    withdrawn: list[Withdrawn] = []
    anyway: list[Withdrawn] = []
    named = {name for label in labels for name in label.namespace_names}
    for label in labels:
        mine = []
        for name in label.namespace_names:
            found, why = _verdict(label, name, by_name, namespaces, named)
            if name in drain:
                why = _drained(label, name, found, why)
            elif why is not None and why.unhealthy and unhealthy == "offer":
                anyway.append(why)
                why = None
            if why is None:
                assert found is not None
                mine.append(found)
            else:
                withdrawn.append(why)
        offered[label.resource_class] = tuple(mine)
    configured = {label.resource_class: label.namespace_names for label in labels}
    present = {name: nss[0] for name, nss in by_name.items() if len(nss) == 1}
    present = {name: present[name] for names in configured.values() for name in names if name in present}
    return Resolution(configured, offered, tuple(withdrawn), tuple(anyway), present)


def mixed(resolution: Resolution) -> list[str]:
    """Classes whose namespaces differ in size or alignment: a guest cannot know which it gets."""
    return mixed_classes(resolution.configured, resolution.present)


def mixed_classes(configured: typing.Mapping[str, typing.Sequence[str]],
                  present: typing.Mapping[str, Namespace]) -> list[str]:
    """``mixed`` for any mapping of classes to names (ours, or nova's [libvirt]pmem_namespaces)."""
    found = []
    for rc, names in sorted(configured.items()):
        here = [present[n] for n in names if n in present]
        for what, value in (("sizes", lambda ns: ns.size), ("alignments", lambda ns: ns.align)):
            values = {value(ns) for ns in here if value(ns) is not None}
            if len(values) > 1:
                each = ", ".join(f"{ns.name} {value(ns)}" for ns in here if value(ns) is not None)
                found.append(f"{rc} holds namespaces of different {what} ({each}): a guest cannot know which it "
                             "gets; give each size its own label")
    return found


def traits(values: list[str]) -> frozenset[str]:
    """The PMEM provider's traits: the managed marker plus [pmem]traits, validated."""
    result = {MANAGED_TRAIT}
    for value in values:
        trait = value.strip()
        if not trait:
            continue
        if not _CUSTOM_TRAIT.match(trait) or len(trait) > _NAME_MAX:
            raise ConfigError(
                f"{TRAITS_OPTION}: {trait!r} is not a custom trait name (CUSTOM_ followed by A-Z, 0-9 and _)"
            )
        result.add(trait)
    return frozenset(result)


def is_pmem_class(resource_class: str) -> bool:
    return resource_class.startswith(CLASS_PREFIX)


def pmem_only(values: typing.Mapping[str, T]) -> dict[str, T]:
    """The PMEM classes of a mapping keyed by resource class (inventories, usages, totals)."""
    return {rc: v for rc, v in values.items() if is_pmem_class(rc)}
