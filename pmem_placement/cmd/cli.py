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
from pmem_placement.cmd import audit as audit_command
from pmem_placement.cmd import check as check_cmd
from pmem_placement.cmd import command
from pmem_placement.cmd import install_unit as install_unit_cmd
from pmem_placement.cmd import reconcile as reconcile_cmd
from pmem_placement.cmd import remove as remove_cmd
from pmem_placement.cmd import show as show_cmd
from pmem_placement.cmd.command import EXIT_CONFIG
from pmem_placement.cmd.command import EXIT_OK
from pmem_placement.cmd.command import EXIT_SYNC
from pmem_placement.cmd.command import EXIT_WOULD_CHANGE
from pmem_placement.cmd.command import PROG
from pmem_placement.cmd.command import Command
from pmem_placement.cmd.command import emit
from pmem_placement.cmd.command import fail
from pmem_placement.conf import parser

if typing.TYPE_CHECKING:
    pass

LOG = logging.getLogger(__name__)

__all__ = ["EXIT_CONFIG", "EXIT_OK", "EXIT_SYNC", "EXIT_WOULD_CHANGE", "main"]


# demo

def demo(conf: cfg.ConfigOpts) -> int:
    from pmem_placement.cmd import demo as demo_mod

    return demo_mod.run(main)


EXIT_STATUSES = (
    (0, "the demo ran"), (1, "a step failed"),
    (2, "openstack-placement is not installed"),
)


DEMO = Command(
    name="demo",
    help="see it work: a real embedded Placement, a nova-like compute node, real ndctl output",
    description="Start a real openstack-placement in-process (sqlite in a temporary directory, "
    "noauth2, loopback), create a compute node provider as nova does, and run show and reconcile "
    "against it with namespaces from real ndctl output. Needs the demo extra: "
    "pip install 'pmem-placement[demo]'. Touches nothing outside its temporary directory.",
    exit_statuses=EXIT_STATUSES,
    run=demo,
    needs_config=False,
)


COMMANDS: tuple[Command, ...] = (reconcile_cmd.COMMAND, show_cmd.COMMAND, check_cmd.COMMAND, remove_cmd.COMMAND,
                                 audit_command.COMMAND, install_unit_cmd.COMMAND, DEMO)
_BY_NAME = {c.name: c for c in COMMANDS}


_PARSERS: dict[str, argparse.ArgumentParser] = {}


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help lines that never break an option or a word at its hyphen (--lock-timeout, nova-compute)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _add_commands(subparsers: typing.Any) -> None:
    for cmd in COMMANDS:
        parser = _PARSERS[cmd.name] = subparsers.add_parser(cmd.name, prog=f"{PROG} {cmd.name}", help=cmd.help, description=textwrap.fill(" ".join(cmd.description.split()), 79, break_on_hyphens=False),
                                       epilog=cmd.epilog(), formatter_class=_Help)
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


USAGE = parser.USAGE.format(extra="[--os-cloud CLOUD] ") + " COMMAND ..."
DESCRIPTION = "Keep Placement truthful about this host's PMEM namespaces."


def registered() -> parser.ConfigOpts:
    """The command's options, registered, not parsed (``pmem-placement``'s parser; the man page)."""
    conf = parser.ConfigOpts()
    conf_mod.register_opts(conf)
    conf.register_cli_opts([_cloud_opt(), _command_opt()])
    logging.register_options(conf)
    return conf


def _setup(argv: list[str]) -> cfg.ConfigOpts:
    conf = registered()
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
                            version=pmem_placement.version(), usage=USAGE, description=DESCRIPTION)
    try:
        logging.setup(conf, PROG)
    except (OSError, ValueError, TypeError, cfg.Error) as exc:  # a log file or logging config it cannot use
        raise errors.ConfigError(f"[DEFAULT] logging options (log_file, log_dir, log_config_append, "
                                 f"default_log_levels): {exc}") from exc
    if not conf.debug:
        # The one-shot prints its own result; only problems belong on stderr.
        logging.getLogger(None).logger.setLevel(logging.WARNING)
    cmd = _BY_NAME[conf.command.name]
    if not cmd.needs_config:
        return conf
    from pmem_placement import wiring

    wiring.set_library_logging(conf)
    if cmd.checks_config:
        return conf  # it reports every configuration problem itself, once
    missing = validate_mod.no_files(conf, PROG)
    if missing:
        raise errors.ConfigError(missing)
    wiring.warn_about_unknown_options(conf)
    validate_mod.read_all(conf)
    wiring.warn_about_exposed_secrets(conf)
    return conf


def _requested(argv: list[str]) -> tuple[Command | None, bool]:
    """The subcommand and whether JSON was asked for, from the raw arguments (for errors met
    before they could be parsed)."""
    cmd = next((_BY_NAME[a] for a in argv if a in _BY_NAME), None)
    as_json = any(a == "--format=json" for a in argv) or any(
        a == "--format" and b == "json" for a, b in zip(argv, argv[1:]))
    return cmd, as_json


def _config_failure(argv: list[str], exc: Exception) -> int:
    cmd, as_json = _requested(argv)
    if isinstance(exc, cfg.Error):
        from pmem_placement.conf import validate as validate_mod

        exc = validate_mod.explain(exc)
    if cmd is not None and cmd.unreadable_config is not None:
        return cmd.unreadable_config(exc, as_json, argv)
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
            from pmem_placement.conf import validate as validate_mod

            exc = validate_mod.explain(exc)
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
