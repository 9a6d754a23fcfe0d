"""[agent] options: the service loop and the state shared by the agent and the one-shot."""

from oslo_config import cfg

def agent_group() -> cfg.OptGroup:
    """A new OptGroup on every call (see ``pmem_placement.conf``)."""
    return cfg.OptGroup("agent", title="Agent", help="The pmem-placement-agent service.")

agent_opts = [
    cfg.IntOpt(
        "interval",
        default=60,
        min=1,
        help="Seconds between two reconciles of the agent.",
    ),
    cfg.StrOpt(
        "state_dir",
        default="/var/lib/pmem-placement",
        help="Directory for the lock that keeps the agent and 'pmem-placement reconcile' from "
        "writing at the same time, and for the provider generations last seen (so that a "
        "run with nothing to change costs one request). Must be writable by the service.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(agent_group())
    conf.register_opts(agent_opts, group="agent")


def list_opts() -> list[cfg.Opt]:
    return list(agent_opts)
