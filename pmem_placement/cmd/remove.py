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
from pmem_placement.conf import pmem as pmem_conf
from pmem_placement.cmd import command
from pmem_placement.cmd.command import emit
from pmem_placement.reconcile import HostSpec


def _arguments(parser: typing.Any) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show what would be done, write nothing")
    command.add_lock_timeout(parser)


STOP_IT = "stop the agent first: systemctl disable --now pmem-placement-agent"


def running_agent(conf: cfg.ConfigOpts) -> str | None:
    """Why the agent would put the provider back right after a removal, or None: an agent holds
    the state directory's lock (from its start, its initial jitter included), in report mode (in
    audit mode it never writes) with a mapping that is not empty, as it wrote when it took the lock.
    When that cannot be told, its status judges: fresh, report mode, a mapping of its own."""
    from pmem_placement import status_file

    agent = status_file.load(conf, nothing_mapped=True)
    lock = agent.running
    if lock.held is False:
        return None
    if lock.held and lock.mode is not None:
        if lock.mode == "audit" or lock.mapping_empty:
            return None
        return (f"the agent is running (pid {lock.pid}, holding {lock.path}) in report mode with a non-empty mapping "
                f"and would re-create the provider: {STOP_IT}")
    status = agent.status  # it cannot be told, or the agent did not say how it runs
    if status is None and lock.held:
        return f"the agent is running (pid {lock.pid}, holding {lock.path}) and may re-create the provider: {STOP_IT}"
    if status is None or status.get("mode") == "audit":
        return None
    if status["stale"] or status["same_config"]:
        return None  # not running, or running with nothing to report: it removes the provider too
    pid = lock.pid or status.get("pid")
    return f"the agent is running (pid {pid}, status {agent.path}) and would re-create the provider: {STOP_IT}"


def run(conf: cfg.ConfigOpts) -> int:
    from pmem_placement import wiring

    dry_run = conf.command.dry_run
    if not conf.host:
        return command.fail("[DEFAULT]host is empty: set it to the compute node's provider name",
                            command.EXIT_CONFIG)
    agent = running_agent(conf)
    if agent:
        return command.fail(f"{agent}; nothing was written", command.EXIT_SYNC)
    spec = HostSpec(host=conf.host, root_uuid=pmem_conf.root_provider_uuid(conf), classes={},
                    traits=frozenset({mapping.MANAGED_TRAIT}))
    client = wiring.client(conf, conf.os_cloud)
    timeout = conf.command.lock_timeout
    outcome = wiring.reconciler(conf, client, timeout, command.lock_waiting(conf, timeout)).run(spec, dry_run=dry_run)
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


DESCRIPTION = """\
Delete this host's PMEM provider from Placement when nothing is allocated from it. Otherwise
fence it (reserved = total on every class: no new allocations, existing ones untouched), name
the consumers still holding it and exit 1; run it again once they are gone. Stop the agent first
(systemctl disable --now pmem-placement-agent): while an agent holds <state_dir>/agent.pid in
report mode with a non-empty mapping, remove refuses (it would recreate the provider); an agent in
[pmem]mode = audit never writes and does not stop it. Waits for the host's lock (and says so),
up to --lock-timeout. Needs neither [pmem]namespaces nor discovery.
"""

HELP = "delete this host's PMEM provider (decommission); fence it while in use"
EXIT_STATUSES = (
    (0, "no PMEM provider is left (deleted now, or there was none)"),
    (1, "still in use: fenced, consumers named; the agent is running (nothing written); "
    "Placement could not be reached; --lock-timeout expired"),
    (2, "invalid configuration: nothing was written"),
    (3, "--dry-run only: the provider would be deleted"),
)


COMMAND = command.Command("remove", HELP, DESCRIPTION, EXIT_STATUSES, run, add_arguments=_arguments)
