"""``pmem-placement show``: the host's namespaces and Placement's view of them. Never writes."""

import dataclasses
import typing

from oslo_config import cfg

from pmem_placement import discover
from pmem_placement import errors
from pmem_placement import mapping
from pmem_placement import output
from pmem_placement import show as show_mod
from pmem_placement import status_file
from pmem_placement import state as state_mod
from pmem_placement import wiring
from pmem_placement.cmd import show_audit
from pmem_placement.cmd.command import EXIT_OK
from pmem_placement.cmd.command import Command
from pmem_placement.cmd.command import emit
from pmem_placement.cmd.command import fail
from pmem_placement.conf import pmem as pmem_conf


def _show_arguments(parser: typing.Any) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--offline", action="store_true",
                        help="the host's namespaces and the mapping only; do not contact Placement")


def show(conf: cfg.ConfigOpts) -> int:
    args = conf.command
    if conf.pmem.mode == "audit":
        return show_audit.run(conf)
    render = output.show_json if args.format == "json" else output.show_text
    try:
        labels = mapping.parse(conf.pmem.namespaces)
        reserved = mapping.reserved(labels, conf.pmem.reserved_namespaces)
        root_uuid = pmem_conf.root_provider_uuid(conf)
        namespaces = discover.discover(conf)
    except errors.PmemPlacementError as exc:
        if args.format == "json":
            emit(output.show_json(conf.host, [], [], None, exc, None))
        return fail(exc, exc.exit_status)
    rows = show_mod.namespace_rows(labels, namespaces, conf.pmem.unhealthy, reserved)
    missing = show_mod.missing_names(labels, namespaces)
    view, error = None, None
    if not args.offline:
        try:
            view = show_mod.placement_view(wiring.client(conf, conf.os_cloud), conf.host, root_uuid)
            if view is not None:
                memory, _ = state_mod.memory(conf.agent.state_dir or None)
                view = dataclasses.replace(view, failsafe=show_mod.failsafe_view(memory, view))
        except errors.PmemPlacementError as exc:
            error = exc
    agent_status = status_file.load(conf).shown()
    configured = {label.resource_class for label in labels}
    emit(render(conf.host, rows, missing, view, error, agent_status, offline=args.offline, configured=configured))
    if error is not None:
        return fail(error, error.exit_status)
    return EXIT_OK


def _show_json_error(host: str | None, exc: Exception, args: typing.Any) -> str:
    return output.show_json(host, [], [], None, exc, None)


COMMAND = Command(
    name="show",
    help="show the host's namespaces and Placement's view of them",
    description="List the host's namespaces (and why each is used or not), configured namespaces "
    "that are missing, Placement's view of the PMEM provider (retiring and fenced classes, double "
    "counting with nova) and the agent's status (marked stale when no agent holds the lock on "
    "<state_dir>/agent.pid, or when its next attempt, backoff included, is more than two intervals "
    "overdue). Never writes.",
    exit_statuses=[(0, "shown"),
                   (1, "Placement could not be read, or has no compute node of [DEFAULT]host (the host's "
                    "namespaces are still shown)"),
                   (2, "invalid configuration or discovery failed")],
    run=show,
    add_arguments=_show_arguments,
    json_error=_show_json_error,
)
