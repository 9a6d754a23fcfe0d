"""Apply a plan: each operation becomes its request, with the generation last read or written.

Writes only what ``plan`` decided, in its order; a conflict (another writer) propagates, and
the reconcile starts over from fresh reads. Two writes need more than one request: a rename
whose name another compute node's PMEM provider still holds (two hosts swapped names) steps
aside to a unique name, and a create whose name is taken tells a concurrent run of ours from a
provider that is not ours.
"""

import dataclasses

from pmem_placement import desired as desired_mod
from pmem_placement import mapping
from pmem_placement import plan as plan_mod
from pmem_placement.desired import Current
from pmem_placement.desired import Identity
from pmem_placement.errors import ForeignProvider
from pmem_placement.placement import errors as perrors
from pmem_placement.placement.client import Client


class Applier:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.aside: list[str] = []
        """Why today's provider is under a temporary name, when a rename had to step aside."""

    def apply(self, ops: list[plan_mod.Operation], current: Current | None) -> Current | None:
        """Run ``ops``; returns today's provider as written (None when deleted or absent)."""
        for op in ops:
            current = self._one(op, current)
        return current

    def _one(self, op: plan_mod.Operation, current: Current | None) -> Current | None:
        client = self.client
        if isinstance(op, plan_mod.EnsureResourceClasses):
            client.ensure_resource_classes(op.names)
        elif isinstance(op, plan_mod.EnsureTraits):
            client.ensure_traits(op.names)
        elif isinstance(op, plan_mod.CreateProvider):
            return Current(op.identity, self._create(op.identity), usages={})
        elif isinstance(op, plan_mod.RenameProvider):
            if current is None or current.identity.uuid != op.identity.uuid:
                self._rename(op.identity)  # an older provider leaves today's name
            else:
                return dataclasses.replace(current, identity=self._rename(op.identity, op.before))
        elif isinstance(op, plan_mod.SetTraits):
            assert current is not None
            gen = client.set_traits(op.identity.uuid, current.generation, op.after)
            return dataclasses.replace(current, generation=gen, traits=op.after)
        elif isinstance(op, plan_mod.SetInventories):
            assert current is not None
            gen = client.set_inventories(op.identity.uuid, current.generation, op.after)
            return dataclasses.replace(current, generation=gen, inventories=op.after)
        elif isinstance(op, plan_mod.RetireProvider):
            client.set_inventories(op.identity.uuid, op.generation, op.after)
        elif isinstance(op, plan_mod.DeleteProvider):
            client.delete_provider(op.identity.uuid)
            if current is not None and current.identity.uuid == op.identity.uuid:
                return None
        return current

    def _rename(self, ident: Identity, before: str | None = None) -> Identity:
        """Rename; returns the identity as renamed. When the name is held by another compute
        node's PMEM provider (two hosts swapped names), today's provider (``before`` given)
        steps aside to a unique name, so that the other host's next run can take ours, and the
        next run here takes its own."""
        try:
            self.client.rename_provider(ident.uuid, ident.name, ident.parent_uuid)
            return ident
        except perrors.DuplicateName as exc:
            holder = self.client.provider_by_name(ident.name)
            if (holder is not None and before is not None
                    and holder.get("parent_provider_uuid") not in (None, ident.parent_uuid)
                    and mapping.MANAGED_TRAIT in self.client.traits(holder["uuid"])[1]):
                return self._step_aside(ident, before, holder["uuid"])
            raise ForeignProvider(
                f"cannot rename the PMEM provider {ident.uuid} to {ident.name!r} after its compute node "
                f"was renamed: a provider of that name already exists"
                f"{' (' + holder['uuid'] + ')' if holder else ''}; rename or remove it"
            ) from exc

    def _step_aside(self, ident: Identity, before: str, holder: str) -> Identity:
        temporary = dataclasses.replace(ident, name=desired_mod.aside_name(ident.name, ident.uuid))
        if before != temporary.name:
            self.client.rename_provider(ident.uuid, temporary.name, ident.parent_uuid)
        self.aside.append(
            f"the PMEM provider {ident.uuid} is named {temporary.name!r} for now: {ident.name!r} "
            f"is still the PMEM provider of another compute node ({holder}; two hosts "
            "swapped names?); its inventory is up to date, and once that host's "
            f"pmem-placement has renamed its own, the next run here takes {ident.name!r}")
        return temporary

    def _create(self, ident: Identity) -> int:
        try:
            return self.client.create_provider(ident.name, ident.uuid, ident.parent_uuid)
        except perrors.DuplicateName as exc:
            holder = self.client.provider_by_name(ident.name)
            if holder is None or holder["uuid"] == ident.uuid:
                raise perrors.Stale(ident.name) from exc  # a concurrent run created it: start over
            raise ForeignProvider(
                f"a provider named {ident.name!r} already exists ({holder['uuid']}) outside the tree "
                "of its compute node: it was not created by pmem-placement; rename or remove it"
            ) from exc
