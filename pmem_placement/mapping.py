"""Map configured labels to resource classes and to the host's namespaces.

Pure: no I/O. The syntax is nova's [libvirt]pmem_namespaces, ``LABEL:NS[|NS...][,LABEL:...]``;
each label becomes ``CUSTOM_PMEM_NAMESPACE_<LABEL>`` normalised by os_resource_classes exactly as
nova does. Every problem is a ``ConfigError`` that names the option and the offending value.
"""

import dataclasses
import difflib
import re
import typing

import os_resource_classes

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


def problems(labels: list[Label], namespaces: list[Namespace]) -> list[str]:
    """Every reason a configured namespace cannot be used, all at once, with a hint for each."""
    by_name: dict[str, list[Namespace]] = {}
    for ns in namespaces:
        if ns.name:
            by_name.setdefault(ns.name, []).append(ns)
    unnamed = {key: ns for ns in namespaces if not ns.name for key in (ns.dev, ns.chardev) if key}
    named = {key: ns for ns in namespaces if ns.name for key in (ns.dev, ns.chardev) if key}
    found: list[str] = []
    for label in labels:
        for name in label.namespace_names:
            matches = by_name.get(name, [])
            where = f"namespace {name!r} (label {label.label!r})"
            if not matches:
                if name in unnamed:
                    found.append(
                        f"{where} exists but has no name: namespaces are given by name; name it with "
                        f"'ndctl create-namespace -f -e {unnamed[name].dev} -m devdax -n NAME' "
                        "(this destroys its data) and configure that name"
                    )
                    continue
                if name in named:
                    found.append(f"{where} is the device of namespace {named[name].name!r}: namespaces are "
                                 f"given by name, use {named[name].name!r}")
                    continue
                close = difflib.get_close_matches(name, sorted(by_name), n=1, cutoff=0.6)
                hint = f": did you mean {close[0]!r}?" if close else ""
                found.append(f"{where} is not on this host{hint}")
            elif len(matches) > 1:
                devs = ", ".join(ns.dev for ns in matches)
                found.append(f"namespace name {name!r} (label {label.label!r}) is ambiguous: {devs} all carry it")
            elif matches[0].problem:
                found.append(f"namespace {name!r} ({matches[0].dev}, label {label.label!r}) is not usable: "
                             f"{matches[0].problem}")
    return found


def resolve(labels: list[Label], namespaces: list[Namespace]) -> dict[str, tuple[Namespace, ...]]:
    """Resource class -> the host's namespaces for it. Every configured one must be usable; the
    ConfigError names every one that is not."""
    found = problems(labels, namespaces)
    if found:
        raise ConfigError(f"{OPTION}: " + "; ".join(found))
    by_name = {ns.name: ns for ns in namespaces if ns.name}
    return {label.resource_class: tuple(by_name[n] for n in label.namespace_names) for label in labels}


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
