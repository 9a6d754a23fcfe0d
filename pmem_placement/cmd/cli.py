"""``pmem-placement``: the one-shot command for operators, scripts and config management.

Each subcommand is a ``Command`` (``cmd/command.py``); a new one is one small module and one
line in ``COMMANDS``. Exit statuses (DESIGN.md) are in every subcommand's ``--help``. Expected
failures are one line on stderr; a traceback means a bug. Global options are accepted before
or after the subcommand, as in the OpenStack clients.
"""

import argparse
import os
import re
import sys
import textwrap
import typing

import pmem_placement
from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import conf as conf_mod
from pmem_placement import errors
from pmem_placement import fingerprint
from pmem_placement import mapping
from pmem_placement import output
from pmem_placement.audit import command as audit_command
from pmem_placement.cmd import check as check_cmd
from pmem_placement.cmd import command
from pmem_placement.cmd import remove as remove_cmd
from pmem_placement.cmd.command import EXIT_CONFIG
from pmem_placement.cmd.command import EXIT_OK
from pmem_placement.cmd.command import EXIT_SYNC
from pmem_placement.cmd.command import EXIT_WOULD_CHANGE
from pmem_placement.cmd.command import PROG
from pmem_placement.cmd.command import Command
from pmem_placement.cmd.command import emit
from pmem_placement.cmd.command import fail

if typing.TYPE_CHECKING:
    from pmem_placement.placement.client import Client

LOG = logging.getLogger(__name__)

__all__ = ["EXIT_CONFIG", "EXIT_OK", "EXIT_SYNC", "EXIT_WOULD_CHANGE", "main", "validate"]


def _client(conf: cfg.ConfigOpts) -> "Client":
    from pmem_placement.cmd import common
    from pmem_placement.placement.client import Client

    return Client(common.placement_adapter(conf, conf.os_cloud))


# reconcile

def _reconcile_arguments(parser: typing.Any) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    command.add_lock_timeout(parser)


def _agent_status(conf: cfg.ConfigOpts) -> dict[str, typing.Any] | None:
    from pmem_placement import status_file
    from pmem_placement.agent import report

    path = report.status_path(conf.agent)
    return status_file.read(path)[0] if path else None


def reconcile(conf: cfg.ConfigOpts) -> int:
    from pmem_placement.cmd import common

    args = conf.command
    as_json = args.format == "json"
    client = None

    try:
        audit_command.refuse_writes(conf, args.dry_run)
        disagreement = fingerprint.disagreement(fingerprint.of(conf), _agent_status(conf))
        if disagreement:
            LOG.warning("%s", disagreement)
        client = _client(conf)
        reconciler = common.reconciler(conf, client, args.lock_timeout, command.lock_waiting(conf, args.lock_timeout))
        # Discovery runs under the host's lock, so the last writer wrote from the newest discovery.
        outcome = reconciler.run(lambda: common.host_spec(conf)[0], dry_run=args.dry_run)
    except errors.PmemPlacementError as exc:
        done = exc.outcome if isinstance(exc, errors.Fenced) else None  # fencing wrote, then failed
        if as_json:
            emit(output.reconcile_json(conf.host, done, args.dry_run, client.requests if client else {}, exc))
        elif done is not None and done.ops:
            emit(output.reconcile_text(done, args.dry_run, sum(client.requests.values()) if client else 0))
        return fail(exc, exc.exit_status)
    if outcome.another_writer:
        from pmem_placement.reconcile import another_writer_warning

        LOG.warning("%s", another_writer_warning(conf.host, outcome))
    from pmem_placement import consumers

    consumers.after_one_shot(conf.agent.state_dir or None, client, outcome, args.dry_run)
    requests = client.requests
    if as_json:
        emit(output.reconcile_json(conf.host, outcome, args.dry_run, requests))
    else:
        emit(output.reconcile_text(outcome, args.dry_run, sum(requests.values())))
    if args.dry_run and outcome.ops:
        return EXIT_WOULD_CHANGE
    return EXIT_OK


def _reconcile_json_error(host: str | None, exc: Exception, args: typing.Any) -> str:
    return output.reconcile_json(host, None, bool(getattr(args, "dry_run", False)), {}, exc)


RECONCILE = Command(
    name="reconcile",
    help="bring Placement in line with this host's PMEM namespaces, once",
    description="Discover the namespaces, compare with Placement and write what differs. Waits for "
    "the agent when it holds the host's lock (and says so), up to --lock-timeout.",
    exit_statuses=[(0, "Placement matches the host (after this run's writes, or already)"),
                   (1, "could not be brought in sync (Placement unreachable, no compute node provider, "
                       "double counting, conflicts, lock timeout)"),
                   (2, "invalid configuration or discovery failed: nothing was written"),
                   (3, "--dry-run only: changes would be made")],
    run=reconcile,
    add_arguments=_reconcile_arguments,
    json_error=_reconcile_json_error,
)


# show

def _show_arguments(parser: typing.Any) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--offline", action="store_true",
                        help="the host's namespaces and the mapping only; do not contact Placement")


def show(conf: cfg.ConfigOpts) -> int:
    import time

    from pmem_placement import discover
    from pmem_placement import show as show_mod
    from pmem_placement.cmd import common

    args = conf.command
    if conf.pmem.mode == "audit":
        from pmem_placement.audit import show as audit_show

        return audit_show.run(conf)
    render = output.show_json if args.format == "json" else output.show_text
    try:
        labels = mapping.parse(conf.pmem.namespaces)
        root_uuid = common.root_provider_uuid(conf)
        namespaces = discover.discover(conf)
    except errors.PmemPlacementError as exc:
        if args.format == "json":
            emit(output.show_json(conf.host, [], [], None, exc, None))
        return fail(exc, exc.exit_status)
    rows = show_mod.namespace_rows(labels, namespaces)
    missing = show_mod.missing_names(labels, namespaces)
    view, error = None, None
    if not args.offline:
        try:
            view = show_mod.placement_view(_client(conf), conf.host, root_uuid)
        except errors.PmemPlacementError as exc:
            error = exc
    from pmem_placement import status_file
    from pmem_placement.agent import report

    path = report.status_path(conf.agent)
    agent_status, unreadable = status_file.read(path) if path else (None, None)
    if unreadable:
        agent_status = {"unreadable": unreadable, "stale": unreadable, "same_config": None}
    elif agent_status is not None:
        agent_status = show_mod.with_freshness(agent_status, conf.agent.interval, time.time(),
                                               fingerprint.pid_alive, fingerprint.of(conf), conf.agent.max_backoff)
    configured = {label.resource_class for label in labels}
    emit(render(conf.host, rows, missing, view, error, agent_status, offline=args.offline, configured=configured))
    if error is not None:
        return fail(error, error.exit_status)
    return EXIT_OK


def _show_json_error(host: str | None, exc: Exception, args: typing.Any) -> str:
    return output.show_json(host, [], [], None, exc, None)


SHOW = Command(
    name="show",
    help="show the host's namespaces and Placement's view of them",
    description="List the host's namespaces (and why each is used or not), configured namespaces "
    "that are missing, Placement's view of the PMEM provider (retiring and fenced classes, double "
    "counting with nova) and the agent's status (marked stale when its process is gone or its next "
    "attempt, backoff included, is more than two intervals overdue). Never writes.",
    exit_statuses=[(0, "shown"),
                   (1, "Placement could not be read (the host's namespaces are still shown)"),
                   (2, "invalid configuration or discovery failed")],
    run=show,
    add_arguments=_show_arguments,
    json_error=_show_json_error,
)


# demo

def demo(conf: cfg.ConfigOpts) -> int:
    from pmem_placement import demo as demo_mod

    return demo_mod.run()


DEMO = Command(
    name="demo",
    help="see it work: a real embedded Placement, a nova-like compute node, real ndctl output",
    description="Start a real openstack-placement in-process (sqlite in a temporary directory, "
    "noauth2, loopback), create a compute node provider as nova does, and run show and reconcile "
    "against it with namespaces from real ndctl output. Needs the demo extra: "
    "pip install 'pmem-placement[demo]'. Touches nothing outside its temporary directory.",
    exit_statuses=[(0, "the demo ran"), (1, "a step failed"),
                   (2, "openstack-placement is not installed")],
    run=demo,
    needs_config=False,
)


COMMANDS: tuple[Command, ...] = (RECONCILE, SHOW, check_cmd.COMMAND, remove_cmd.COMMAND, audit_command.COMMAND, DEMO)
_BY_NAME = {c.name: c for c in COMMANDS}


_PARSERS: dict[str, argparse.ArgumentParser] = {}


def _add_commands(subparsers: typing.Any) -> None:
    for cmd in COMMANDS:
        parser = _PARSERS[cmd.name] = subparsers.add_parser(cmd.name, help=cmd.help, description=textwrap.fill(cmd.description, 79),
                                       epilog=cmd.epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.add_arguments(parser)


def _cloud_opt() -> cfg.StrOpt:
    return cfg.StrOpt(
        "os-cloud",
        default=os.environ.get("OS_CLOUD") or None,
        help="Authenticate with this cloud from clouds.yaml (openstacksdk's usual places, or "
        "OS_CLIENT_CONFIG_FILE) instead of [placement]. Default: $OS_CLOUD.",
    )


def _command_opt() -> cfg.SubCommandOpt:
    return cfg.SubCommandOpt("command", title="Commands", help="what to do (see '<command> --help')",
                             handler=_add_commands)


def hoist_global_options(argv: list[str], conf: cfg.ConfigOpts) -> list[str]:
    """Move global options written after the subcommand in front of it, where argparse wants them:
    ``reconcile --config-file F`` works like ``--config-file F reconcile``."""
    with_value = {"--config-file", "--config-dir"}
    flags: set[str] = {"--version"}
    for opt, group in conf._all_cli_opts():
        if group is not None or isinstance(opt, cfg.SubCommandOpt):
            continue
        names = {f"--{opt.name}"} | ({f"-{opt.short}"} if opt.short else set())
        if isinstance(opt, cfg.BoolOpt):
            flags |= names | {f"--no{opt.name}"}
        else:
            with_value |= names
    position = None
    i = 0
    while i < len(argv):
        if argv[i] in _BY_NAME:
            position = i
            break
        i += 2 if argv[i] in with_value else 1
    if position is None:
        return argv
    moved: list[str] = []
    rest: list[str] = []
    tail = argv[position + 1:]
    j = 0
    while j < len(tail):
        arg = tail[j]
        if arg == "--":
            rest += tail[j:]
            break
        if arg.split("=", 1)[0] in with_value:
            count = 1 if "=" in arg else 2
            moved += tail[j:j + count]
            j += count
        elif arg in flags:
            moved.append(arg)
            j += 1
        else:
            rest.append(arg)
            j += 1
    return argv[:position] + moved + [argv[position]] + rest


def _setup(argv: list[str]) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf.register_cli_opts([_cloud_opt(), _command_opt()])
    logging.register_options(conf)
    # stdout carries the result (text or JSON); logs, warnings included, belong on stderr.
    conf.set_default("use_stderr", True)
    from pmem_placement.conf import validate as validate_mod

    def usage_error(text: str) -> None:
        # argparse leaves unknown options after a subcommand to the top parser: say it with the
        # subcommand's usage, as its --help would.
        unknown = re.search(r"error: unrecognized arguments: (.*)\Z", text.strip())
        cmd, _ = _requested(argv)
        if unknown and cmd is not None and cmd.name in _PARSERS:
            words = unknown.group(1).split()
            after = argv[argv.index(cmd.name) + 1:]
            if all(w in after or w.split("=", 1)[0] in after for w in words):
                _PARSERS[cmd.name].error(f"unrecognized arguments: {unknown.group(1)}")

    validate_mod.parse_args(conf, hoist_global_options(argv, conf), usage_error, project=PROG, prog=PROG,
                            version=pmem_placement.version(),
                            description="Keep Placement truthful about this host's PMEM namespaces.")
    logging.setup(conf, PROG)
    if not conf.debug:
        # The one-shot prints its own result; only problems belong on stderr.
        logging.getLogger(None).logger.setLevel(logging.WARNING)
    if not _BY_NAME[conf.command.name].needs_config:
        return conf
    from pmem_placement.cmd import common

    common.set_library_logging(conf)
    common.warn_about_unknown_options(conf)
    validate(conf)
    common.warn_about_exposed_secrets(conf)
    return conf


def validate(conf: cfg.ConfigOpts) -> None:
    """Read every option of ours once, so a bad value anywhere fails now, not when first used,
    as ``[section]option = 'value' in FILE is not valid: why``.

    [placement] is keystoneauth's: its plugin options exist only once auth_type is loaded, and
    loading it checks them.
    """
    from pmem_placement.conf import agent
    from pmem_placement.conf import base
    from pmem_placement.conf import pmem
    from pmem_placement.conf import validate as validate_mod

    for section, name, group_opts in ((conf, "DEFAULT", base.list_opts()), (conf.pmem, "pmem", pmem.list_opts()),
                                      (conf.agent, "agent", agent.list_opts())):
        for opt in group_opts:
            try:
                getattr(section, opt.dest)
            except cfg.ConfigFileValueError as exc:
                raise cfg.ConfigFileValueError(validate_mod.invalid_value(conf, name, opt.dest, exc)) from exc
    for dest in list(conf.placement):  # the session and adapter options registered so far
        try:
            getattr(conf.placement, dest)
        except cfg.ConfigFileValueError as exc:
            raise cfg.ConfigFileValueError(validate_mod.invalid_value(conf, "placement", dest, exc)) from exc


def _requested(argv: list[str]) -> tuple[Command | None, bool]:
    """The subcommand and whether JSON was asked for, from the raw arguments (for errors met
    before they could be parsed)."""
    cmd = next((_BY_NAME[a] for a in argv if a in _BY_NAME), None)
    as_json = any(a == "--format=json" for a in argv) or any(
        a == "--format" and b == "json" for a, b in zip(argv, argv[1:]))
    return cmd, as_json


def _config_failure(argv: list[str], exc: Exception) -> int:
    cmd, as_json = _requested(argv)
    if isinstance(exc, cfg.ConfigFileValueError):
        from pmem_placement.conf import validate as validate_mod

        exc = cfg.ConfigFileValueError(validate_mod.describe(exc))
    if as_json and cmd is not None and cmd.json_error is not None:
        emit(cmd.json_error(None, exc, None))
    return fail(exc, EXIT_CONFIG)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    conf: cfg.ConfigOpts | None = None
    try:
        try:
            conf = _setup(args)
        except cfg.Error as exc:
            # Unreadable config files, bad values, unknown options: all configuration.
            return _config_failure(args, exc)
        except errors.PmemPlacementError as exc:
            return _config_failure(args, exc)
        try:
            return _BY_NAME[conf.command.name].run(conf)
        except cfg.Error as exc:
            if isinstance(exc, cfg.ConfigFileValueError):
                from pmem_placement.conf import validate as validate_mod

                exc = cfg.ConfigFileValueError(validate_mod.describe(exc))
            cmd = _BY_NAME[conf.command.name]
            if cmd.json_error is not None and getattr(conf.command, "format", None) == "json":
                emit(cmd.json_error(conf.host, exc, conf.command))
            return fail(exc, EXIT_CONFIG)
        except errors.PmemPlacementError as exc:
            return fail(exc, exc.exit_status)
    except BrokenPipeError:
        command.quiet_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        return _interrupted(args, conf)


def _interrupted(argv: list[str], conf: cfg.ConfigOpts | None) -> int:
    """Ctrl-C: one line, and with --format json the documented object all the same."""
    exc = errors.Interrupted("interrupted (Ctrl-C) before the run finished")
    cmd, as_json = _requested(argv)
    try:
        if as_json and cmd is not None and cmd.json_error is not None:
            emit(cmd.json_error(conf.host if conf else None, exc, conf.command if conf else None))
    except errors.OutputError:
        pass
    return fail(exc, exc.exit_status)


if __name__ == "__main__":
    sys.exit(main())
