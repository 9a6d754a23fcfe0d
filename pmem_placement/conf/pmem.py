"""[pmem] options: what to discover and how to map it."""

from oslo_config import cfg

def pmem_group() -> cfg.OptGroup:
    """A new OptGroup on every call (see ``pmem_placement.conf``)."""
    return cfg.OptGroup(
        "pmem", title="Persistent memory", help="Which PMEM namespaces to report to Placement and how."
    )

pmem_opts = [
    cfg.StrOpt(
        "namespaces",
        help="Namespaces to report, in the syntax of nova's [libvirt]pmem_namespaces: "
        "LABEL:NS[|NS...][,LABEL:NS[|NS...]], e.g. '4GB:ns_0,SMALL:ns_1|ns_2'. NS is the "
        "namespace name given with 'ndctl create-namespace -n'. Each label becomes the "
        "resource class CUSTOM_PMEM_NAMESPACE_<LABEL> with one unit per namespace; a label "
        "written as the class name (CUSTOM_PMEM_NAMESPACE_4GB) is an error. Required: "
        "unset is a configuration error (a typo in the option or section name must not "
        "remove the provider). Set it empty ('namespaces =') to report nothing: the PMEM "
        "provider is then removed once it has no allocations. "
        "Leave nova's own [libvirt]pmem_namespaces empty, or the namespaces are counted twice.",
    ),
    cfg.StrOpt(
        "discovery",
        default="ndctl",
        choices=[
            ("ndctl", "run '<ndctl_path> list --namespaces --idle --device-dax'"),
            ("sysfs", "read /sys/bus/nd/devices under sysfs_root, without ndctl"),
            ("file", "read ndctl list JSON from namespaces_file"),
        ],
        help="How to discover the namespaces present on this host.",
    ),
    cfg.StrOpt(
        "ndctl_path",
        default="ndctl",
        help="The ndctl executable: an absolute path, or a name looked up in PATH. It is run "
        "without a shell, with a fixed argument list.",
    ),
    cfg.IntOpt(
        "ndctl_timeout",
        default=30,
        min=1,
        help="Seconds to wait for ndctl before discovery fails (and nothing is written).",
    ),
    cfg.StrOpt(
        "namespaces_file",
        help="With discovery = file: a file holding the JSON printed by 'ndctl list -N -i -X'.",
    ),
    cfg.StrOpt(
        "sysfs_root",
        default="/sys",
        help="With discovery = sysfs: where sysfs is mounted.",
    ),
    cfg.StrOpt(
        "root_provider_uuid",
        help="UUID of this compute node's resource provider. When unset, the provider is "
        "found by its name, [DEFAULT]host.",
    ),
    cfg.ListOpt(
        "traits",
        default=[],
        help="Extra traits for the PMEM provider, comma separated, each CUSTOM_[A-Z0-9_]+. "
        "Missing traits are created. The provider always also carries "
        "CUSTOM_PMEM_PLACEMENT_MANAGED; any other trait on it is removed.",
    ),
    cfg.IntOpt(
        "conflict_retries",
        default=4,
        min=0,
        max=20,
        help="How many times a reconcile starts over after Placement reports a conflicting "
        "concurrent update (stale generation, a class that became in use) before giving up.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(pmem_group())
    conf.register_opts(pmem_opts, group="pmem")


def list_opts() -> list[cfg.Opt]:
    return list(pmem_opts)
