"""Configuration options, one module per group, registered on a ConfigOpts passed in.

Nothing here reads files or touches global state: callers own the ConfigOpts.
"""

from oslo_config import cfg

from pmem_placement.conf import agent
from pmem_placement.conf import base
from pmem_placement.conf import placement
from pmem_placement.conf import pmem


def register_opts(conf: cfg.ConfigOpts) -> None:
    base.register_opts(conf)
    pmem.register_opts(conf)
    agent.register_opts(conf)
    placement.register_opts(conf)
