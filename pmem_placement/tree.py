"""Which providers of a compute node's tree are ours, older ours, someone else's PMEM, or unrelated.

Pure: no I/O. The one place that decides it; ``reconcile``, ``show``, ``check``, ``audit`` and
``remove`` (a reconcile with nothing desired) all ask here.

- **today's**: the provider with today's identity (``desired.identity_in_tree``: today's uuid,
  else a 0.1.0 provider under today's name), when it carries the managed trait or is blank (what
  a crash right after creating it leaves); without the trait and not blank, someone else's
  provider stands there (``todays_is_ours``);
- **older ours**: any other provider but the compute node itself that carries the managed
  trait, when its PMEM classes or its name and uuid (``desired.may_be_ours``) make it worth
  asking (older providers of a renamed compute node, 0.1.0 identities);
- **foreign PMEM**: any other provider with ``CUSTOM_PMEM_NAMESPACE_*`` inventory, the compute
  node included (nova's ``[libvirt]pmem_namespaces``);
- **unrelated**: the rest.

Whether a provider is older ours needs its traits; ``needs_traits`` says when they must be read.
"""

import dataclasses
import typing

from pmem_placement import desired as desired_mod
from pmem_placement import mapping

TODAY, OLDER, FOREIGN, UNRELATED = "today", "older", "foreign", "unrelated"

Record = typing.Mapping[str, typing.Any]
"""A provider as ``GET /resource_providers?in_tree=`` lists it: uuid, name, generation, parent."""


@dataclasses.dataclass(frozen=True)
class Root:
    """The compute node's provider, with every provider of its tree as listed."""

    uuid: str
    name: str
    generation: int
    tree: list[dict[str, typing.Any]]

    def today(self) -> desired_mod.Identity:
        """Today's PMEM provider of this compute node (it may not exist yet)."""
        return desired_mod.identity_in_tree(self.uuid, self.name, self.tree)


def todays_is_ours(traits: typing.AbstractSet[str], has_inventory: bool) -> bool:
    """Whether the provider at today's uuid is ours: it carries the managed trait, or it is blank."""
    return mapping.MANAGED_TRAIT in traits or (not traits and not has_inventory)


def may_be_ours(root_uuid: str, today_uuid: str, provider: Record) -> bool:
    """Whether ``provider`` may be a provider of ours, from the tree listing alone (today's uuid,
    a name or uuid as pmem-placement gives them): the providers ``audit`` reads."""
    return provider["uuid"] == today_uuid or (
        provider["uuid"] != root_uuid and desired_mod.may_be_ours(root_uuid, provider))


def needs_traits(root_uuid: str, today_uuid: str, provider: Record, classes: typing.AbstractSet[str]) -> bool:
    """Whether only its traits can tell whose ``provider`` is: an older provider of ours, or
    someone else's at today's uuid (read there when it offers PMEM)."""
    uuid = provider["uuid"]
    if uuid == root_uuid:
        return False
    if uuid == today_uuid:
        return bool(classes)
    return bool(classes) or desired_mod.may_be_ours(root_uuid, provider)


def classify(root_uuid: str, today_uuid: str, provider: Record, classes: typing.AbstractSet[str],
             traits: typing.AbstractSet[str] | None) -> str:
    """TODAY, OLDER, FOREIGN or UNRELATED. ``classes``: its PMEM classes; ``traits``: its traits,
    None when not read (then it is not older ours: read them when ``needs_traits``)."""
    if provider["uuid"] == today_uuid:
        if traits is None or todays_is_ours(traits, bool(classes)):
            return TODAY
        return FOREIGN if classes else UNRELATED
    if traits is not None and needs_traits(root_uuid, today_uuid, provider, classes) \
            and mapping.MANAGED_TRAIT in traits:
        return OLDER
    return FOREIGN if classes else UNRELATED


@dataclasses.dataclass(frozen=True)
class PmemInTree:
    """The PMEM inventory of the tree's providers, by provider name, told apart."""

    elsewhere: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    """Providers we do not own, the compute node included: class -> total."""
    ours: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    """Today's provider and older ones of ours: class -> total."""

    def classes_elsewhere(self) -> dict[str, list[str]]:
        return {name: sorted(totals) for name, totals in self.elsewhere.items()}

    def classes_ours(self) -> dict[str, list[str]]:
        return {name: sorted(totals) for name, totals in self.ours.items()}
