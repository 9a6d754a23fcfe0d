"""``pmem-placement-agent``: the long-running service, under systemd on every compute node."""

import sys
import warnings

from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import conf as conf_mod
from pmem_placement.cmd import cli

PROG = "pmem-placement-agent"
LOG = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    # futurist imports eventlet when it is installed, which warns at import; we never use it.
    warnings.filterwarnings("ignore", message="\\s*Eventlet is deprecated")
    # The threading backend must be chosen before oslo_service.service is imported.
    from oslo_service import backend

    backend.init_backend(backend.BackendType.THREADING)
    from oslo_service import service

    from pmem_placement.agent.service import AgentService

    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    logging.register_options(conf)
    try:
        from pmem_placement.conf import validate

        validate.parse_args(conf, sys.argv[1:] if argv is None else argv, project="pmem-placement", prog=PROG,
                            version=cli.version(),
                            description="Keep Placement in sync with this host's PMEM namespaces, every "
                            "[agent]interval.")
        cli.validate(conf)
    except cfg.Error as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return cli.EXIT_CONFIG
    logging.setup(conf, PROG)
    conf.log_opt_values(LOG, logging.DEBUG)  # oslo.config masks secret options
    from pmem_placement.cmd import common

    common.set_library_logging(conf)
    common.warn_about_unknown_options(conf)
    common.warn_about_exposed_secrets(conf)
    # ServiceLauncher is the launcher whose SIGHUP really reloads (see agent/service.py).
    launcher = service.launch(conf, AgentService(conf), workers=1, restart_method="reload")
    return int(launcher.wait() or 0)


if __name__ == "__main__":
    sys.exit(main())
