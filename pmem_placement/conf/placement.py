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


# Transport retries are keystoneauth's; its defaults (none) would make a Placement restart behind
# haproxy (a few seconds of refused connections or 502/503/504) fail a one-shot run. With these,
# keystoneauth waits 0.5, 1, 2 and 4 s between attempts (7.5 s in all). Retrying a write is safe:
# a replayed write carries the generation it read and comes back as a conflict, which re-reads.
RETRY_DEFAULTS: dict[str, object] = {
    "connect_retries": 4,
    "status_code_retries": 4,
    "retriable_status_codes": [502, 503, 504],
}
_RETRY_HELP = {
    "connect_retries": "Retries of a request whose connection was refused, reset or timed out, "
    "waiting connect_retry_delay between them (unset: 0.5 s, doubling each time).",
    "status_code_retries": "Retries of a request Placement answered with one of "
    "retriable_status_codes, waiting status_code_retry_delay between them (unset: 0.5 s, "
    "doubling each time). Writes stay safe: a replayed write that Placement had applied is "
    "refused as a generation conflict and the provider is read again.",
    "retriable_status_codes": "HTTP answers that are retried (a Placement restarting behind a "
    "load balancer answers 502, 503 or 504).",
}


def _adapter_opts() -> list[cfg.Opt]:
    opts = ks_loading.get_adapter_conf_options(include_deprecated=False)  # new Opt objects
    for opt in opts:
        if opt.dest in RETRY_DEFAULTS:
            opt.default = RETRY_DEFAULTS[opt.dest]
            opt.help = _RETRY_HELP[opt.dest]
    return opts


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(placement_group())
    conf.register_opts(_session_opts(), group=GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)
    conf.register_opts(_adapter_opts(), group=GROUP)
    conf.set_default("service_type", SERVICE_TYPE, group=GROUP)


def list_opts() -> list[cfg.Opt]:
    """The options shown in the sample: session, adapter, and the password plugin's."""
    opts = (
        _session_opts()
        + ks_loading.get_auth_common_conf_options()
        + ks_loading.get_auth_plugin_conf_options("password")
        + _adapter_opts()
    )
    # Deduplicate by name, keeping the first (the plugin lists repeat common ones).
    seen: dict[str, cfg.Opt] = {}
    for opt in opts:
        seen.setdefault(opt.dest, opt)
    return list(seen.values())
