"""Which configuration a run used, as a short fingerprint, so the agent and the one-shot can agree.

The agent records the fingerprint of its effective configuration in its status file; a one-shot
(or ``check``) computes its own from today's files and compares. Different fingerprints mean the
files were edited and the agent not reloaded: each would set the other's inventory back.
Covers [DEFAULT]host and every [pmem] option (what decides the provider's content), never
[placement] (credentials).
"""

import hashlib
import json
import typing

from oslo_config import cfg

RELOAD = "reload the agent: systemctl reload pmem-placement-agent"


def of(conf: cfg.ConfigOpts, nothing_mapped: bool = False) -> str:
    """The fingerprint of what the configuration means, not how it is written: the mapping as
    classes and namespace sets, the traits as a set (spaces and order do not count). With
    ``nothing_mapped``, as if [pmem]namespaces were set empty (what ``remove`` would accept)."""
    from pmem_placement import errors
    from pmem_placement import mapping
    from pmem_placement.conf import pmem

    values: dict[str, typing.Any] = {opt.dest: getattr(conf.pmem, opt.dest) for opt in pmem.list_opts()}
    if nothing_mapped:
        values["namespaces"] = ""
    try:
        values["namespaces"] = {label.resource_class: sorted(label.namespace_names)
                                for label in mapping.parse(values["namespaces"])}
    except errors.ConfigError:
        pass  # kept as written: a run with it fails anyway
    try:
        values["traits"] = sorted(mapping.traits(values["traits"]))
    except errors.ConfigError:
        pass
    data = {"host": conf.host, "pmem": values}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def disagreement(mine: str, agent_status: typing.Mapping[str, typing.Any] | None) -> str | None:
    """Why the running agent and this run would disagree, or None (no agent, or the same).
    ``agent_status`` as ``status_file.with_freshness`` returns it: ``running`` says whether an
    agent holds the state directory's lock (``held`` None: it cannot be told)."""
    if not agent_status or (agent_status.get("running") or {}).get("held") is False:
        return None
    theirs = agent_status.get("config_fingerprint")
    if not theirs or theirs == mine:
        return None
    return (f"the running agent (pid {agent_status.get('pid')}) uses another configuration than these "
            f"files ([DEFAULT]host or [pmem] differ): each run would set the other's inventory back; {RELOAD}")
