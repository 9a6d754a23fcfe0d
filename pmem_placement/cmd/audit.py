"""``pmem-placement audit``: where nova's own PMEM inventory no longer matches this host.

Exit statuses: 0 no findings, 1 findings, 2 the audit could not be made (configuration,
discovery, or Placement could not be read). Never writes to Placement.
"""

import logging
import typing

from oslo_config import cfg

from pmem_placement.cmd.command import Command
from pmem_placement.cmd.command import emit
from pmem_placement.cmd.command import fail
from pmem_placement.errors import ConfigError
from pmem_placement.errors import PmemPlacementError

LOG = logging.getLogger(__name__)

DESCRIPTION = ("Compare nova's [libvirt]pmem_namespaces with this host's namespaces and with the "
               "compute node's PMEM inventory in Placement, and report every way nova's inventory is "
               "wrong for this host. Never writes to Placement.")


def add_arguments(parser: typing.Any) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--nova-config", action="append", metavar="FILE",
                        help="nova's configuration file, repeatable, read in order as nova-compute's "
                        "--config-file (default: [pmem]nova_config, /etc/nova/nova.conf and "
                        "/etc/nova/nova-compute.conf, those that exist)")
    parser.add_argument("--nova-config-dir", action="append", metavar="DIR",
                        help="a directory of nova's *.conf files, repeatable, read after the files as "
                        "nova-compute's --config-dir (default: [pmem]nova_config_dir, /etc/nova/nova.conf.d "
                        "and /etc/nova/nova-compute.conf.d, those that exist)")


def refuse_writes(conf: cfg.ConfigOpts, dry_run: bool) -> None:
    """``reconcile`` under [pmem]mode = audit: nova owns PMEM and nothing is written."""
    if conf.pmem.mode == "audit" and not dry_run:
        raise ConfigError("[pmem]mode = audit: nova reports PMEM and pmem-placement never writes to "
                          "Placement; run 'pmem-placement audit', or set [pmem]mode = report")


def run(conf: cfg.ConfigOpts) -> int:
    from pmem_placement.audit import runner
    from pmem_placement import wiring

    args = conf.command
    files = args.nova_config or list(conf.pmem.nova_config)
    dirs = args.nova_config_dir or list(conf.pmem.nova_config_dir)
    result = runner.audit(conf, lambda: wiring.client(conf, conf.os_cloud), files, dirs)
    for warning in runner.mixed(result):
        LOG.warning("%s", warning)
    if args.format == "json":
        emit(runner.as_json(result))
    elif result.error is None:
        emit(runner.as_text(result))
    if result.error is not None:
        return fail(result.error, result.exit_status)
    return result.exit_status


def _json_error(host: str | None, exc: Exception, args: typing.Any) -> str:
    from pmem_placement.audit import runner

    error = exc if isinstance(exc, PmemPlacementError) else ConfigError(str(exc))
    return runner.as_json(runner.Result(host or "", None, [], error))


COMMAND = Command(
    name="audit",
    help="check nova's own PMEM inventory ([libvirt]pmem_namespaces) against the host",
    description=DESCRIPTION,
    exit_statuses=[(0, "no findings"), (1, "findings"),
                   (2, "configuration or discovery error, or Placement could not be read")],
    run=run,
    add_arguments=add_arguments,
    json_error=_json_error,
)
