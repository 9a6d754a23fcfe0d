"""The agent in audit mode ([pmem]mode = audit): one audit per cycle, never a write.

A finding is warned about once, when it appears, and logged once when it clears. The findings
go to the status file (``findings``) and the metrics file
(``pmem_placement_audit_findings{kind}``). An audit that cannot be made (configuration,
discovery, Placement) is handled like a failed reconcile: warned once, backed off.
"""

import contextlib
import os
import typing

from oslo_log import log as logging

from pmem_placement.audit import runner
from pmem_placement.audit.findings import Finding
from pmem_placement.cmd import common
from pmem_placement.placement.client import Client

if typing.TYPE_CHECKING:
    from pmem_placement.agent.cycle import Agent

LOG = logging.getLogger(__name__)


def _report(agent: "Agent") -> None:
    from pmem_placement.agent import report

    path = report.status_path(agent.conf.agent)
    if path:
        # In report mode the state directory's lock creates it; audit mode takes no lock.
        with contextlib.suppress(OSError):
            os.makedirs(os.path.dirname(path) or ".", mode=0o750, exist_ok=True)
    report.write(agent.status, path, agent.conf.agent.metrics_file)


class AuditWatch:
    def __init__(self) -> None:
        self.current: dict[tuple[str, str | None, str | None, str], Finding] = {}

    def cycle(self, agent: "Agent") -> bool:
        """One audit; True when it could be made (with or without findings)."""
        status = agent.status
        started = agent.clock()
        status.last_attempt = started
        status.cycles += 1

        def client() -> Client:
            if agent._client is None:
                agent._client = Client(common.placement_adapter(agent.conf))
            return agent._client

        try:
            result = runner.audit(agent.conf, client, list(agent.conf.pmem.nova_config))
        except Exception as exc:  # a bug: keep the traceback, keep the agent alive
            LOG.exception("unexpected error during audit")
            status.last_duration = agent.clock() - started
            agent._count_requests()
            agent._failed(exc)
            _report(agent)
            return False
        status.last_duration = agent.clock() - started
        agent._count_requests()
        if result.error is not None:
            agent._failed(result.error)
        else:
            self._succeeded(agent, result)
        _report(agent)
        return result.error is None

    def _succeeded(self, agent: "Agent", result: runner.Result) -> None:
        now = {(f.kind, f.resource_class, f.namespace, f.message): f for f in result.findings}
        for key, finding in now.items():
            if key not in self.current:
                LOG.warning("audit: %s: %s", finding.kind, finding.message)
        for key, finding in self.current.items():
            if key not in now:
                LOG.info("audit: cleared: %s: %s", finding.kind, finding.message)
        self.current = now
        if agent._problem is not None:
            LOG.info("audit possible again after: %s", agent._problem)
            agent._problem = None
        status = agent.status
        status.last_success = agent.clock()
        status.consecutive_failures = 0
        status.findings = [f.as_dict() for f in result.findings]
        status.provider = result.compute_node
        if result.findings:
            status.state = "error"  # an operator has to act
            count = len(result.findings)
            agent._set_error("audit_findings", f"{count} audit finding{'s' if count != 1 else ''}: "
                             + "; ".join(f.message for f in result.findings))
        else:
            status.state = "in_sync"
            status.last_error = None
