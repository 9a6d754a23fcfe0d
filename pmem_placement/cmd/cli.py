"""``pmem-placement``: the one-shot command for operators, scripts and config management.

Exit statuses (DESIGN.md): 0 in sync; 1 could not be brought in sync; 2 invalid configuration or
discovery failed (nothing written); 3 with --dry-run, changes would be made. Expected failures are
one line on stderr; a traceback means a bug.
"""

import os
import sys
import typing

from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import conf as conf_mod
from pmem_placement import errors
from pmem_placement import mapping
from pmem_placement import output

if typing.TYPE_CHECKING:
    from pmem_placement.placement.client import Client

LOG = logging.getLogger(__name__)
PROG = "pmem-placement"

EXIT_OK, EXIT_SYNC, EXIT_CONFIG, EXIT_WOULD_CHANGE = 0, 1, 2, 3


def _add_commands(subparsers: typing.Any) -> None:
    rec = subparsers.add_parser(
        "reconcile",
        help="bring Placement in line with this host's PMEM namespaces, once",
        description="Discover the namespaces, compare with Placement and write what differs. Exit "
        "status: 0 in sync, 1 could not sync, 2 bad configuration or discovery failed (nothing "
        "written), 3 with --dry-run when changes would be made.",
    )
    rec.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    rec.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    show = subparsers.add_parser(
        "show", help="show the host's namespaces and Placement's view of them",
    )
    show.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    subparsers.add_parser(
        "demo",
        help="see it work: a real embedded Placement, a nova-like compute node, real ndctl output",
    )


def _cloud_opt() -> cfg.StrOpt:
    return cfg.StrOpt(
        "os-cloud",
        default=os.environ.get("OS_CLOUD") or None,
        help="Authenticate with this cloud from clouds.yaml (openstacksdk's usual places, or "
        "OS_CLIENT_CONFIG_FILE) instead of [placement]. Default: $OS_CLOUD.",
    )

command_opt = cfg.SubCommandOpt(
    "command", title="Commands", help="what to do (see '<command> --help')", handler=_add_commands
)


def _fail(exc: BaseException, status: int) -> int:
    print(f"{PROG}: error: {exc}", file=sys.stderr)
    return status


def _setup(argv: list[str]) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf.register_cli_opts([_cloud_opt(), command_opt])
    logging.register_options(conf)
    # stdout carries the result (text or JSON); logs, warnings included, belong on stderr.
    conf.set_default("use_stderr", True)
    conf(argv, project=PROG, prog=PROG)
    validate(conf)
    logging.setup(conf, PROG)
    if not conf.debug:
        # The one-shot prints its own result; only problems belong on stderr.
        logging.getLogger(None).logger.setLevel(logging.WARNING)
    from pmem_placement.cmd import common

    common.set_library_logging(conf)
    common.warn_about_exposed_secrets(conf)
    return conf


def validate(conf: cfg.ConfigOpts) -> None:
    """Read every option of ours once, so a bad value anywhere fails now, not when first used.

    [placement] is keystoneauth's: its plugin options exist only once auth_type is loaded, and
    loading it checks them.
    """
    from pmem_placement.conf import agent
    from pmem_placement.conf import base
    from pmem_placement.conf import pmem

    for section, group_opts in ((conf, base.list_opts()), (conf.pmem, pmem.list_opts()),
                                (conf.agent, agent.list_opts())):
        for opt in group_opts:
            getattr(section, opt.dest)


def _client(conf: cfg.ConfigOpts) -> "Client":
    from pmem_placement.cmd import common
    from pmem_placement.placement.client import Client

    return Client(common.placement_adapter(conf, conf.os_cloud))


def reconcile(conf: cfg.ConfigOpts) -> int:
    from pmem_placement.cmd import common

    args = conf.command
    as_json = args.format == "json"
    client = None
    try:
        client = _client(conf)
        outcome = common.reconciler(conf, client).run(lambda: common.host_spec(conf)[0], dry_run=args.dry_run)
    except errors.PmemPlacementError as exc:
        done = exc.outcome if isinstance(exc, errors.Fenced) else None  # fencing wrote, then failed
        if as_json:
            print(output.reconcile_json(conf.host, done, args.dry_run, client.requests if client else {}, exc))
        elif done is not None and done.ops:
            print(output.reconcile_text(done, args.dry_run, sum(client.requests.values()) if client else 0))
        return _fail(exc, exc.exit_status)
    if outcome.another_writer:
        from pmem_placement.reconcile import another_writer_warning

        LOG.warning("%s", another_writer_warning(conf.host, outcome))
    requests = client.requests
    if as_json:
        print(output.reconcile_json(conf.host, outcome, args.dry_run, requests))
    else:
        print(output.reconcile_text(outcome, args.dry_run, sum(requests.values())))
    if args.dry_run and outcome.ops:
        return EXIT_WOULD_CHANGE
    return EXIT_OK


def show(conf: cfg.ConfigOpts) -> int:
    from pmem_placement import discover
    from pmem_placement import show as show_mod

    from pmem_placement.cmd import common

    try:
        labels = mapping.parse(conf.pmem.namespaces)
        root_uuid = common.root_provider_uuid(conf)
        namespaces = discover.discover(conf)
    except errors.PmemPlacementError as exc:
        return _fail(exc, exc.exit_status)
    rows = show_mod.namespace_rows(labels, namespaces)
    missing = show_mod.missing_names(labels, namespaces)
    view, error = None, None
    try:
        view = show_mod.placement_view(_client(conf), conf.host, root_uuid)
    except errors.PmemPlacementError as exc:
        error = exc
    from pmem_placement.agent import report

    path = report.status_path(conf.agent)
    agent_status = report.read_status(path) if path else None
    render = output.show_json if conf.command.format == "json" else output.show_text
    print(render(conf.host, rows, missing, view, error, agent_status))
    if error is not None:
        return _fail(error, error.exit_status)
    return EXIT_OK


def demo(conf: cfg.ConfigOpts) -> int:
    from pmem_placement import demo as demo_mod

    return demo_mod.run()


COMMANDS: dict[str, typing.Callable[[cfg.ConfigOpts], int]] = {"reconcile": reconcile, "show": show, "demo": demo}


def main(argv: list[str] | None = None) -> int:
    try:
        conf = _setup(sys.argv[1:] if argv is None else argv)
        return COMMANDS[conf.command.name](conf)
    except cfg.Error as exc:
        # Unreadable config files, bad values, unknown options: all configuration.
        return _fail(exc, EXIT_CONFIG)
    except errors.PmemPlacementError as exc:
        return _fail(exc, exc.exit_status)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
