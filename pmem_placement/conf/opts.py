"""The oslo.config.opts entry point: every option, by group, for oslo-config-generator."""

from oslo_config import cfg

from pmem_placement.conf import agent
from pmem_placement.conf import base
from pmem_placement.conf import placement
from pmem_placement.conf import pmem


def list_opts() -> list[tuple[str | cfg.OptGroup, list[cfg.Opt]]]:
    return [
        ("DEFAULT", base.list_opts()),
        (pmem.pmem_group(), pmem.list_opts()),
        (agent.agent_group(), agent.list_opts()),
        (placement.placement_group(), placement.list_opts()),
    ]

