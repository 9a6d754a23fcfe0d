"""[placement] options: keystoneauth1 session, auth and adapter options, as nova registers them.

An operator can paste the [placement] section of nova.conf here.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = "placement"
SERVICE_TYPE = "placement"


def placement_group() -> cfg.OptGroup:
    """A new OptGroup on every call (see ``pmem_placement.conf``)."""
    return cfg.OptGroup(
        GROUP,
        title="Placement service",
        help="How to reach and authenticate to Placement (keystoneauth1 options, as in nova.conf). "
        "For a Placement without Keystone (auth_strategy = noauth2), use auth_type = admin_token "
        "with endpoint and token.",
    )


# keystoneauth waits forever by default; a Placement that accepts a connection and never answers
# must not hang the one-shot or wedge the agent.
DEFAULT_TIMEOUT = 30.0


def _session_opts() -> list[cfg.Opt]:
    opts = ks_loading.get_session_conf_options()  # new Opt objects on every call
    for opt in opts:
        if opt.dest == "timeout":
            opt.default = DEFAULT_TIMEOUT
            opt.help = ("Seconds to wait for Placement (and Keystone) to answer a request before "
                        "giving up on it. keystoneauth's own default is to wait forever.")
    return opts


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(placement_group())
    conf.register_opts(_session_opts(), group=GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)
    ks_loading.register_adapter_conf_options(conf, GROUP, include_deprecated=False)
    conf.set_default("service_type", SERVICE_TYPE, group=GROUP)


def list_opts() -> list[cfg.Opt]:
    """The options shown in the sample: session, adapter, and the password plugin's."""
    opts = (
        _session_opts()
        + ks_loading.get_auth_common_conf_options()
        + ks_loading.get_auth_plugin_conf_options("password")
        + ks_loading.get_adapter_conf_options(include_deprecated=False)
    )
    # Deduplicate by name, keeping the first (the plugin lists repeat common ones).
    seen: dict[str, cfg.Opt] = {}
    for opt in opts:
        seen.setdefault(opt.dest, opt)
    return list(seen.values())
