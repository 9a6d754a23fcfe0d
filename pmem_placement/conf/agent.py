"""[agent] options: the service loop and the state shared by the agent and the one-shot."""

from oslo_config import cfg

def agent_group() -> cfg.OptGroup:
    """A new OptGroup on every call (see ``pmem_placement.conf``)."""
    return cfg.OptGroup("agent", title="Agent", help="The pmem-placement-agent service.")

agent_opts = [
    cfg.IntOpt(
        "interval",
        default=300,
        min=1,
        max=86400,
        help="Seconds between two reconciles of the agent (a steady one costs one request). Changes "
        "on the host (a namespace created, destroyed, disabled or onlined as system RAM; a DIMM's "
        "health) wake it within seconds where it can hear the kernel's events (its status says "
        "'events: listening'); this interval bounds how late it sees them where it cannot, and how "
        "late it sees changes in Placement (nova reporting PMEM on the compute node, another writer).",
    ),
    cfg.IntOpt(
        "initial_jitter",
        default=30,
        min=0,
        max=3600,
        help="The agent's first reconcile waits a random time up to this many seconds, so that "
        "a rack of hosts booting together does not reach Placement at the same moment.",
    ),
    cfg.IntOpt(
        "max_backoff",
        default=600,
        min=1,
        max=86400,
        help="After consecutive failed reconciles the agent waits twice as long each time "
        "(from [agent]interval, with jitter) up to this many seconds; the first success "
        "returns to the normal interval.",
    ),
    cfg.StrOpt(
        "status_file",
        help="JSON file the agent rewrites after every reconcile and when it stops: state (in_sync, "
        "degraded, error, stopped), last attempt, last success, last error, inventory per class, "
        "reloads. 'pmem-placement show' prints it. Default: status.json in [agent]state_dir.",
    ),
    cfg.StrOpt(
        "metrics_file",
        help="Prometheus text-format file for node_exporter's textfile collector, e.g. "
        "/var/lib/node_exporter/textfile_collector/pmem_placement.prom, rewritten after every "
        "reconcile and when the agent stops (state stopped). Alert rules for it: "
        "share/pmem-placement/pmem-placement.rules.yml. Unset: none is written.",
    ),
    cfg.IntOpt(
        "verify_interval",
        default=1800,
        min=1,
        help="The agent reads its PMEM provider and the compute node's tree in full (the tree, the "
        "provider's inventory and traits, the other providers' PMEM classes: 4 requests on a "
        "compute node with only ours; usages too when the plan needs them) at least this often, "
        "in seconds, instead of trusting the generations it remembers: a generation proves nothing once Placement's history forks (a database "
        "restored from a backup, a failover that lost writes), so a wrong inventory is corrected "
        "within this bound plus [agent]interval. Between full reads a cycle with nothing to "
        "change costs one request. The one-shot 'pmem-placement reconcile' always reads in full.",
    ),
    cfg.StrOpt(
        "state_dir",
        default="/var/lib/pmem-placement",
        help="Directory for the lock that keeps the agent and 'pmem-placement reconcile' from "
        "writing at the same time, for the provider generations last seen (so that a run with "
        "nothing to change costs one request), and for the memory of which namespaces each "
        "class's consumers may hold (lost, it is covered by the fail-safe: reservations until "
        "those consumers are gone). Required by every run that writes to Placement. Owned by "
        "the agent's user (the unit's StateDirectory=); a root one-shot leaves its files to it.",
    ),
]


def list_opts() -> list[cfg.Opt]:
    return list(agent_opts)
