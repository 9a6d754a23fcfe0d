"""[pmem] options: what to discover and how to map it."""

import uuid

from oslo_config import cfg

from pmem_placement.errors import ConfigError

# Where nova-compute started without --config-file/--config-dir finds its configuration
# (oslo.config's default search for project nova, program nova-compute, under /etc/nova).
NOVA_CONFIG_FILES = ("/etc/nova/nova.conf", "/etc/nova/nova-compute.conf")
NOVA_CONFIG_DIRS = ("/etc/nova/nova.conf.d", "/etc/nova/nova-compute.conf.d")

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
        "With mode = report, leave nova's own [libvirt]pmem_namespaces empty, or the namespaces "
        "are counted twice.",
    ),
    cfg.StrOpt(
        "discovery",
        default="ndctl",
        choices=[
            ("ndctl", "run '<ndctl_path> list --buses --dimms --regions --namespaces --idle --device-dax "
             "--health --media-errors --verbose'"),
            ("sysfs", "read /sys/bus/nd/devices under sysfs_root, without ndctl"),
            ("file", "read that call's JSON from namespaces_file"),
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
        help="Seconds to wait for ndctl before discovery fails (and nothing is written), and for cxl "
        "before the health of namespaces on a CXL bus is not known.",
    ),
    cfg.StrOpt(
        "cxl_path",
        default="cxl",
        help="ndctl's cxl executable: an absolute path, or a name looked up in PATH. When a namespace "
        "is on a CXL bus, discovery (ndctl or sysfs) runs '<cxl_path> list --memdevs --health' "
        "without a shell to read its CXL memory devices' health. The default name not found in "
        "PATH (not installed): those namespaces are offered, with a note that their health is not "
        "read; a path set here that is not an executable, or a cxl that fails or hangs: their health "
        "is not known, and they are withdrawn unless [pmem]unhealthy = offer.",
    ),
    cfg.StrOpt(
        "namespaces_file",
        help="With discovery = file: a file holding the JSON printed by 'ndctl list --buses --dimms "
        "--regions --namespaces --idle --device-dax --health --media-errors --verbose' (what discovery = "
        "ndctl runs). The flat 'ndctl list -N -i -X' is read too, but carries no health signals. An "
        "empty file is what ndctl prints with no nd bus: a discovery error.",
    ),
    cfg.StrOpt(
        "sysfs_root",
        default="/sys",
        help="Where sysfs is mounted: discovery = sysfs reads the namespaces there; both discoveries read "
        "there which CXL memory device an nd DIMM is (its cxl/id, Linux 6.2 and later).",
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
    cfg.StrOpt(
        "unhealthy",
        default="reserve",
        choices=[
            ("reserve", "an unhealthy namespace's unit is withdrawn (reserved) until it is healthy "
             "again; runs exit 2 naming it, and write only what lowers the offer"),
            ("offer", "offer it all the same; 'check' and every run warn about it"),
        ],
        help="What to do with a configured namespace whose hardware may not keep what is "
        "written to it: its region is read-only, a DIMM under it failed to arm, save, restore or "
        "flush, a DIMM's health is critical or fatal, it has media errors (bad blocks), or its "
        "health could not be read or an address range scrub is still running.",
    ),
    cfg.ListOpt(
        "reserved_namespaces",
        default=[],
        help="Namespaces of [pmem]namespaces to take out of service, by name, comma separated (a "
        "DIMM to be replaced, a namespace to inspect): each one's unit is reserved, so nothing new "
        "is placed on it, and its consumers keep what they hold; 'show' marks it. Applied by a "
        "reload of the agent. A name not in [pmem]namespaces is a configuration error. Reserving "
        "wipes nothing: see the README on released namespaces.",
    ),
    cfg.StrOpt(
        "mode",
        default="report",
        choices=[
            ("report", "report [pmem]namespaces on this tool's child provider, for consumers other "
             "than nova's libvirt driver (nova attaches no namespace from it to a guest)"),
            ("audit", "nova reports PMEM itself ([libvirt]pmem_namespaces): never write to "
             "Placement; report where nova's inventory no longer matches the host"),
        ],
        help="What the agent does on each cycle. 'pmem-placement audit' runs one audit whatever "
        "the mode.",
    ),
    cfg.ListOpt(
        "nova_config",
        default=list(NOVA_CONFIG_FILES),
        help="Audit: nova's configuration files, read in this order as nova-compute reads its "
        "--config-file options, later files overriding earlier ones. Of the default files, "
        "those that do not exist are skipped, as nova-compute's own default search skips them "
        "(nova-compute.conf exists only on some distributions); any other file must exist.",
    ),
    cfg.ListOpt(
        "nova_config_dir",
        default=list(NOVA_CONFIG_DIRS),
        help="Audit: directories of nova's configuration, read after the files, each one's "
        "*.conf files in name order, as nova-compute reads its --config-dir options. Default "
        "directories that do not exist are skipped; any other must exist.",
    ),
]


def list_opts() -> list[cfg.Opt]:
    return list(pmem_opts)


def root_provider_uuid(conf: cfg.ConfigOpts) -> str | None:
    """[pmem]root_provider_uuid, checked and normalised; None when unset."""
    value = conf.pmem.root_provider_uuid
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ConfigError(f"[pmem]root_provider_uuid: {value!r} is not a UUID") from exc
