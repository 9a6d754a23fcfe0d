"""``pmem-placement remove``: take this host's PMEM provider out of Placement (decommission, uninstall).

It is a reconcile with nothing desired, so it inherits every rule of one: the provider is deleted
when nothing is allocated from it; otherwise each class in use is fenced (reserved = total, no
new allocations, allocations untouched), the consumers still holding it are named, and the exit
status is 1; a later ``remove`` finishes the job. Needs neither [pmem]namespaces nor discovery.
"""

import typing

from oslo_config import cfg

from pmem_placement import mapping
from pmem_placement import output
from pmem_placement import plan as plan_mod
from pmem_placement.cmd import command
from pmem_placement.cmd.command import emit
from pmem_placement.reconcile import HostSpec


def _arguments(parser: typing.Any) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show what would be done, write nothing")


def run(conf: cfg.ConfigOpts) -> int:
    from pmem_placement.cmd import common
    from pmem_placement.placement.client import Client

    dry_run = conf.command.dry_run
    if not conf.host:
        return command.fail("[DEFAULT]host is empty: set it to the compute node's provider name",
                            command.EXIT_CONFIG)
    spec = HostSpec(host=conf.host, root_uuid=common.root_provider_uuid(conf), classes={},
                    traits=frozenset({mapping.MANAGED_TRAIT}))
    client = Client(common.placement_adapter(conf, conf.os_cloud))
    outcome = common.reconciler(conf, client).run(spec, dry_run=dry_run)
    name = outcome.identity.name if outcome.identity else f"{conf.host}:pmem"
    lines = [output.change_line(c) for c in plan_mod.changes(outcome.ops)]
    deleted = any(isinstance(op, plan_mod.DeleteProvider) for op in outcome.ops)
    if outcome.current is None or deleted:
        if not outcome.ops:
            lines.append(f"{name}: no PMEM provider, nothing to remove")
            emit("\n".join(lines))
            return command.EXIT_OK
        lines.append(f"{name}: {'would be deleted (dry run, nothing written)' if dry_run else 'deleted'}")
        emit("\n".join(lines))
        return command.EXIT_WOULD_CHANGE if dry_run else command.EXIT_OK
    consumers = client.provider_allocations(outcome.identity.uuid) if outcome.identity else {}
    for consumer, resources in sorted(consumers.items()):
        held = ", ".join(f"{rc}={n}" for rc, n in sorted(resources.items()))
        lines.append(f"  consumer {consumer} holds {held}")
    verb = "would be fenced (dry run, nothing written)" if dry_run and outcome.ops else "fenced (reserved = total)"
    lines.append(f"{name}: still in use by {len(consumers)} consumer{'s' if len(consumers) != 1 else ''}, "
                 f"{verb}; free them (e.g. migrate or delete the instances), then run remove again")
    emit("\n".join(lines))
    return command.EXIT_SYNC


COMMAND = command.Command(
    name="remove",
    help="delete this host's PMEM provider (decommission); fence it while in use",
    description="Delete this host's PMEM provider from Placement when nothing is allocated from it. "
    "Otherwise fence it (reserved = total on every class: no new allocations, existing ones "
    "untouched), name the consumers still holding it and exit 1; run it again once they are gone. "
    "Stop the agent first (systemctl disable --now pmem-placement-agent), or it recreates the "
    "provider. Needs neither [pmem]namespaces nor discovery.",
    exit_statuses=[(0, "no PMEM provider is left (deleted now, or there was none)"),
                   (1, "still in use: fenced, consumers named; or Placement could not be reached"),
                   (2, "invalid configuration: nothing was written"),
                   (3, "--dry-run only: the provider would be deleted")],
    run=run,
    add_arguments=_arguments,
)
