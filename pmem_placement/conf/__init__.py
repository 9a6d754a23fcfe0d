"""Configuration options, one module per group, registered on a ConfigOpts passed in.

Nothing here reads files or touches global state: callers own the ConfigOpts. Each module
builds its OptGroup anew for every registration because ConfigOpts.register_group keeps a
shallow copy that shares the group's option table: one module-level group would carry
keystoneauth's auth plugin options, registered while loading auth, into every later ConfigOpts.
"""

from oslo_config import cfg

from pmem_placement.conf import agent
from pmem_placement.conf import base
from pmem_placement.conf import placement
from pmem_placement.conf import pmem


def register_opts(conf: cfg.ConfigOpts) -> None:
    base.register_opts(conf)
    for group, opts in ((pmem.pmem_group(), pmem.pmem_opts), (agent.agent_group(), agent.agent_opts)):
        conf.register_group(group)
        conf.register_opts(opts, group=group.name)
    placement.register_opts(conf)
