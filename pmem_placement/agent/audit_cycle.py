"""The agent in audit mode ([pmem]mode = audit): one audit per cycle, never a write.

A finding is warned about once, when it appears, and logged once when it clears; one whose
counts change (``findings.identity``) is the same finding. The findings
go to the status file (``findings``) and the metrics file
(``pmem_placement_audit_findings{kind}``). An audit that cannot be made (configuration,
discovery, Placement) is warned about once and backs the agent off like a failed reconcile.
Only the agent's public ``conf``, ``clock`` and ``status`` are used.
"""

import collections
import contextlib
import os
import typing

from oslo_log import log as logging

from pmem_placement import status_file
from pmem_placement import errors
from pmem_placement import fingerprint
from pmem_placement.agent import report
from pmem_placement.audit import findings as findings_mod
from pmem_placement.audit import runner
from pmem_placement.audit.findings import Finding
from pmem_placement import wiring
from pmem_placement.placement.client import Client

LOG = logging.getLogger(__name__)


class AuditWatch:
    def __init__(self) -> None:
        self.current: dict[tuple[str, str | None, str | None, str], Finding] = {}
        """The findings warned about, by what they are about: a finding whose numbers change
        (more units allocated, another total) is the same finding, not cleared and new."""
        self.problem: str | None = None
        self._client: Client | None = None
        self._requests_seen: collections.Counter[str] = collections.Counter()

    def _make_client(self, conf: typing.Any) -> Client:
        if self._client is None:
            self._client = wiring.client(conf)
        return self._client

    def cycle(self, agent: typing.Any) -> bool:
        """One audit for ``agent`` (an ``agent.cycle.Agent``); True when it could be made."""
        status: report.Status = agent.status
        started = agent.clock()
        status.last_attempt = started
        status.cycles += 1
        status.mode = "audit"
        # So that a one-shot or check read with other files says to reload (as in report mode).
        status.config_fingerprint = fingerprint.of(agent.conf)
        try:
            result = runner.audit(agent.conf, lambda: self._make_client(agent.conf),
                                  list(agent.conf.pmem.nova_config), list(agent.conf.pmem.nova_config_dir))
            failure: BaseException | None = result.error
        except Exception as exc:  # a bug: keep the traceback, keep the agent alive
            LOG.exception("unexpected error during audit")
            failure = exc
        status.last_duration = agent.clock() - started
        self._count_requests(status)
        if failure is None:
            self._succeeded(agent, status, result)
        else:
            self._failed(status, failure)
        self._write(agent.conf, status)
        return failure is None

    def _count_requests(self, status: report.Status) -> None:
        if self._client is None:
            return
        now = collections.Counter(self._client.requests)
        for method, n in (now - self._requests_seen).items():
            status.requests[method] = status.requests.get(method, 0) + n
        self._requests_seen = now

    @staticmethod
    def _set_error(status: report.Status, kind: str, message: str) -> None:
        last = status.last_error
        since = last["since"] if last and last["message"] == message else report.iso(status.last_attempt)
        status.last_error = {"kind": kind, "message": message, "since": since}

    def _failed(self, status: report.Status, exc: BaseException) -> None:
        message = str(exc)
        if message != self.problem:
            LOG.warning("audit not done: %s", message)
            self.problem = message
        kind = errors.kind_of(exc)
        status.state = kind.agent_state
        status.consecutive_failures += 1
        self._set_error(status, kind.name, message)
        status.errors[kind.name] = status.errors.get(kind.name, 0) + 1

    def _succeeded(self, agent: typing.Any, status: report.Status, result: runner.Result) -> None:
        now = {findings_mod.identity(f): f for f in result.findings}
        for key, finding in now.items():
            if key not in self.current:
                LOG.warning("audit: %s: %s", finding.kind, finding.message)
        for key, finding in self.current.items():
            if key not in now:
                LOG.info("audit: cleared: %s: %s", finding.kind, finding.message)
        self.current = now
        if self.problem is not None:
            LOG.info("audit possible again after: %s", self.problem)
            self.problem = None
        status.last_success = agent.clock()
        status.consecutive_failures = 0
        status.findings = [f.as_dict() for f in result.findings]
        status.provider = result.compute_node
        if result.findings:
            status.state = errors.AUDIT_FINDINGS.agent_state  # an operator has to act
            count = len(result.findings)
            self._set_error(status, errors.AUDIT_FINDINGS.name, f"{count} audit finding{'s' if count != 1 else ''}: "
                            + "; ".join(f.message for f in result.findings))
        else:
            status.state = "in_sync"
            status.last_error = None

    @staticmethod
    def _write(conf: typing.Any, status: report.Status) -> None:
        path = status_file.path(conf.agent)
        if path:
            # In report mode the state directory's lock creates it; audit mode takes no lock.
            with contextlib.suppress(OSError):
                os.makedirs(os.path.dirname(path) or ".", mode=0o750, exist_ok=True)
        report.write(status, path, conf.agent.metrics_file, conf.agent.state_dir)
