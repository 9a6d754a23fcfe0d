"""Map configured labels to resource classes and to the host's namespaces.

Pure: no I/O. The syntax is nova's [libvirt]pmem_namespaces, ``LABEL:NS[|NS...][,LABEL:...]``;
each label becomes ``CUSTOM_PMEM_NAMESPACE_<LABEL>`` normalised by os_resource_classes exactly as
nova does. Every problem is a ``ConfigError`` that names the option and the offending value.
"""

import dataclasses
import re

import os_resource_classes

from pmem_placement.discover.model import Namespace
from pmem_placement.errors import ConfigError

OPTION = "[pmem]namespaces"
TRAITS_OPTION = "[pmem]traits"
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


def parse(value: str) -> list[Label]:
    """Parse the option's syntax; checks that need the host's namespaces come in ``resolve``."""
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


def resolve(labels: list[Label], namespaces: list[Namespace]) -> dict[str, tuple[Namespace, ...]]:
    """Resource class -> the host's namespaces for it. Every configured one must be usable."""
    by_name: dict[str, list[Namespace]] = {}
    for ns in namespaces:
        if ns.name:
            by_name.setdefault(ns.name, []).append(ns)
    result: dict[str, tuple[Namespace, ...]] = {}
    for label in labels:
        found = []
        for name in label.namespace_names:
            matches = by_name.get(name, [])
            unnamed = [ns for ns in namespaces if ns.dev == name and not ns.name]
            if not matches and unnamed:
                # Configured by its device: the documented reason, not "not on this host".
                raise ConfigError(f"{OPTION}: namespace {name!r} (label {label.label!r}) is not usable: "
                                  f"{unnamed[0].problem}")
            if not matches:
                raise ConfigError(f"{OPTION}: namespace {name!r} (label {label.label!r}) is not on this host")
            if len(matches) > 1:
                devs = ", ".join(ns.dev for ns in matches)
                raise ConfigError(
                    f"{OPTION}: namespace name {name!r} (label {label.label!r}) is ambiguous: "
                    f"{devs} all carry it"
                )
            ns = matches[0]
            if ns.problem:
                raise ConfigError(
                    f"{OPTION}: namespace {name!r} ({ns.dev}, label {label.label!r}) is not usable: {ns.problem}"
                )
            found.append(ns)
        result[label.resource_class] = tuple(found)
    return result


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
