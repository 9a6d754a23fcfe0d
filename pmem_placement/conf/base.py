"""[DEFAULT] options."""

import socket

from oslo_config import cfg

host_opts = [
    cfg.StrOpt(
        "host",
        default=socket.gethostname(),
        sample_default="<current_hostname>",
        help="Name of this compute node's resource provider in Placement. It must be the "
        "same as nova-compute's [DEFAULT]host (nova names the root provider after it). "
        "Ignored for finding the provider when [pmem]root_provider_uuid is set.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(host_opts)


def list_opts() -> list[cfg.Opt]:
    return list(host_opts)
