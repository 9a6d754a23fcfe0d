"""``pmem-placement-agent``: the long-running service, under systemd on every compute node."""

import os
import signal
import sys
import typing
import warnings

import pmem_placement
from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import conf as conf_mod
from pmem_placement import errors
from pmem_placement.cmd import cli

PROG = "pmem-placement-agent"
DESCRIPTION = ("Keep Placement in sync with this host's PMEM namespaces: at each change on the host (the "
               "kernel's events) and every [agent]interval. Run by systemd (pmem-placement-agent.service); "
               "SIGHUP reloads the configuration, SIGTERM stops.")
USAGE = "%(prog)s [-h] [--version] [--config-file PATH] [--config-dir DIR] [--debug] [logging options]"
LOG = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    # Until the launcher's handlers are in place, a SIGHUP (a reload right after a start) would
    # end the process; the configuration is read after this line anyway.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # futurist imports eventlet when it is installed, which warns at import; we never use it.
    warnings.filterwarnings("ignore", message="\\s*Eventlet is deprecated")
    # The threading backend must be chosen before oslo_service.service is imported.
    from oslo_service import backend

    backend.init_backend(backend.BackendType.THREADING)
    from oslo_service import service

    from pmem_placement.agent import config
    from pmem_placement.agent import pidfile
    from pmem_placement.agent.service import AgentService
    from pmem_placement.agent.service import ReloadNoise
    from pmem_placement.agent.systemd import Notifier

    conf = registered()
    try:
        from pmem_placement.conf import validate

        validate.parse_args(conf, sys.argv[1:] if argv is None else argv, project="pmem-placement", prog=PROG,
                            version=pmem_placement.version(), usage=USAGE, description=DESCRIPTION)
        _check(conf)
    except (cfg.Error, config.InvalidOption, errors.ConfigError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return cli.EXIT_CONFIG
    pid_problem, pid_file = None, None
    if conf.agent.state_dir:
        try:
            # Held until the process ends; the worker inherits it.
            fd = pidfile.acquire(conf.agent.state_dir)
        except errors.PmemPlacementError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return exc.exit_status
        pid_file = (fd, os.path.join(conf.agent.state_dir, pidfile.NAME))
        pid_problem = pidfile.record(*pid_file, conf)  # before the first cycle's jitter
    logging.setup(conf, PROG)
    if pid_problem:
        LOG.warning("[agent]state_dir: %s", pid_problem)
    conf.log_opt_values(LOG, logging.DEBUG)  # oslo.config masks secret options
    from pmem_placement import wiring

    wiring.set_library_logging(conf)
    wiring.warn_about_unknown_options(conf)
    wiring.warn_about_exposed_secrets(conf)
    # ServiceLauncher is the launcher whose SIGHUP really reloads (see agent/service.py).
    # Taken out of the environment before the master runs: the worker says READY (see agent/systemd.py).
    notifier = Notifier.from_environment()
    agent = AgentService(conf, notifier=notifier, pid_file=pid_file)
    conf.on_reload = agent.reloaded  # the master's reload: RELOADING=1, no STOPPING=1
    ReloadNoise(agent.reloading).install()
    launcher = service.launch(conf, agent, workers=1, restart_method="reload")
    status = int(launcher.wait() or 0)
    return 1 if agent.loop_failed.value else status


def registered() -> typing.Any:
    """The agent's options, registered, not parsed (its parser; the man page)."""
    from pmem_placement.agent import config

    conf = config.AgentConfigOpts(_check)
    conf_mod.register_opts(conf)
    logging.register_options(conf)
    return conf


def _checked_groups() -> list[tuple[str | None, list[cfg.Opt]]]:
    from pmem_placement.conf import agent
    from pmem_placement.conf import base
    from pmem_placement.conf import pmem

    return [(None, base.list_opts()), ("pmem", pmem.list_opts()), ("agent", agent.list_opts())]


def _check(conf: cfg.ConfigOpts) -> None:
    """At start-up and on every reload: each option of ours (naming the file of an invalid
    value), then whatever else the one-shot checks."""
    from pmem_placement.agent import config

    config.check(conf, _checked_groups)
    config.check_placement(conf)
    config.check_mapping(conf)
    if conf.pmem.mode == "report":
        from pmem_placement import wiring

        wiring.state_dir(conf)  # its lock and its memory: report mode needs it
    from pmem_placement.conf import validate

    validate.read_all(conf)


if __name__ == "__main__":
    sys.exit(main())
