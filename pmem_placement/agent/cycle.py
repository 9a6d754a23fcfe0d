"""One agent cycle: discover, reconcile, log, and report. No threads, no signals, no sleeping.

Logging is for people reading a journal over months: one line per change applied, one warning
when a problem starts (not every cycle while it lasts), one line when it clears, silence in sync.
"""

import collections
import contextlib
import functools
import os
import threading
import time
import typing

from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import status_file
from pmem_placement import consumers
from pmem_placement import errors
from pmem_placement import fingerprint
from pmem_placement import output
from pmem_placement import plan as plan_mod
from pmem_placement import statedir
from pmem_placement.agent import locks
from pmem_placement.agent import report
from pmem_placement.agent import audit_cycle
from pmem_placement import wiring
from pmem_placement.placement.client import Client
from pmem_placement.reconcile import Outcome
from pmem_placement.reconcile import Reconciler
from pmem_placement.reconcile import another_writer_warning

LOG = logging.getLogger(__name__)

class Agent:
    def __init__(self, conf: cfg.ConfigOpts, clock: typing.Callable[[], float] = time.time,
                 heartbeat: typing.Callable[[], None] | None = None,
                 stopping: threading.Event | None = None) -> None:
        self.conf = conf
        self.clock = clock
        self.heartbeat = heartbeat
        """Called before each request to Placement (the systemd watchdog's ping)."""
        self.stopping = stopping
        """Set when the agent stops: a wait for the state directory's lock ends at once."""
        self.status = report.Status(host=conf.host, pid=os.getpid(), interval=conf.agent.interval)
        self._reconciler: Reconciler | None = None
        self._client: Client | None = None
        self._requests_seen: collections.Counter[str] = collections.Counter()
        self._problem: str | None = None
        self._guests = consumers.GuestWatch()
        self._audit = audit_cycle.AuditWatch()
        self._file_problems: set[str] = set()
        """Files that could not be written, warned about once until they can be again."""
        self._file_problems_since: dict[str, str | None] = {}
        self._recreated_warned: set[tuple[str, tuple[str, str]]] = set()
        self._offered_warned: set[str] = set()

    @property
    def waiting_for_compute_node(self) -> bool:
        """The last cycle found no compute node provider: retry at the normal interval."""
        return bool(self.status.last_error and self.status.last_error["kind"] == errors.RootProviderNotFound.kind)

    def _reconciler_for(self) -> Reconciler:
        if self._reconciler is None:
            self._client = wiring.client(self.conf, on_request=self.heartbeat)
            self._reconciler = wiring.reconciler(self.conf, self._client)
            # A one-shot holding the lock (or stopped with Ctrl-Z) must not wedge the loop: wait
            # at most one interval, pinging the watchdog, then report it and try next cycle.
            self._reconciler.store.acquire = functools.partial(
                locks.acquire, bound=self.conf.agent.interval, ping=self.heartbeat, stopping=self.stopping)
        return self._reconciler

    def _state_file_problem(self) -> str | None:
        return self._reconciler.store.problem if self._reconciler is not None else None

    def cycle(self) -> bool:
        """Run one reconcile; True when Placement is in sync afterwards."""
        if self.conf.pmem.mode == "audit":
            return self._audit.cycle(self)
        started = self.clock()
        self.status.last_attempt = started
        self.status.cycles += 1
        self.status.config_fingerprint = fingerprint.of(self.conf)
        outcome: Outcome | None = None
        failure: BaseException | None = None
        try:
            outcome = self._reconciler_for().run(lambda: wiring.host_spec(self.conf)[0], trust_cache=True)
            consumers.warn_after(typing.cast(Client, self._client), outcome, self._guests, only_new=True)
        except errors.PmemPlacementError as exc:
            failure = exc
        except Exception as exc:  # a bug: keep the traceback, keep the agent alive
            LOG.exception("unexpected error during reconcile")
            failure = exc
        self.status.last_duration = self.clock() - started
        self._count_requests()
        if outcome is not None:
            self._succeeded(outcome)
        else:
            assert failure is not None
            done = getattr(failure, "outcome", None)  # fencing or withdrawing wrote, then failed
            if done is not None:
                self._wrote(done)
            self._failed(failure)
        self._write_reports()
        return failure is None

    def stopped(self) -> None:
        """A clean stop (not a reload's restart): the status and metrics say ``stopped``, so that
        the files left behind never read as a healthy agent. A file that cannot be written is
        logged once more; nothing else."""
        self.status.state = "stopped"
        self.status.next_attempt = None
        self._write_reports()
        if self.status.state == "stopped":
            LOG.info("stopped: the status and metrics files say so")

    def _write_reports(self) -> None:
        """Metrics first, so that a metrics file that cannot be written shows in the status.

        A file that cannot be written (a missing directory, a full disk, a read-only mount)
        never stops the agent: it is warned about once, and it makes the state ``error`` with
        a kind naming the file, since only an operator can fix it.
        """
        problems: list[tuple[str, str]] = []

        def problem(kind_: str, message: str) -> None:
            if not problems:
                self.status.state = errors.ERROR
                # Since the problem started, not since this cycle (a success clears last_error).
                since = self._file_problems_since.setdefault(message, report.iso(self.status.last_attempt))
                self.status.last_error = {"kind": kind_, "message": message, "since": since}
            problems.append((kind_, message))

        state_problem = self._state_file_problem()
        if state_problem:
            problem(errors.STATE_FILE_NOT_WRITABLE.name, state_problem)
        metrics_file = self.conf.agent.metrics_file
        if metrics_file:
            try:
                report.write_metrics(self.status, metrics_file)
            except OSError as exc:
                problem(errors.METRICS_FILE_NOT_WRITABLE.name, errors.cannot_write("[agent]metrics_file", metrics_file, exc))
        status_path = status_file.path(self.conf.agent)
        if status_path:
            try:
                report.write_status(self.status, status_path, self.conf.agent.state_dir)
            except (OSError, statedir.StateDirError) as exc:
                problem(errors.STATUS_FILE_NOT_WRITABLE.name, errors.cannot_write("[agent]status_file", status_path, exc))
                if metrics_file and len(problems) == 1:
                    with contextlib.suppress(OSError):  # so the metrics show the status file's problem
                        report.write_metrics(self.status, metrics_file)
        # The state store warns about its own file (the one-shot needs that warning too).
        now = {message for kind_, message in problems if kind_ != errors.STATE_FILE_NOT_WRITABLE.name}
        for message in sorted(now - self._file_problems):
            LOG.warning("%s", message)  # once per file and problem, not once per cycle
        for message in sorted(self._file_problems - now):
            LOG.info("written again after: %s", message)
        self._file_problems = now
        lasting = {message for _, message in problems}
        self._file_problems_since = {m: t for m, t in self._file_problems_since.items() if m in lasting}

    def _count_requests(self) -> None:
        if self._client is None:
            return
        now = collections.Counter(self._client.requests)
        for method, n in (now - self._requests_seen).items():
            self.status.requests[method] = self.status.requests.get(method, 0) + n
        self._requests_seen = now

    def _problem_started(self, message: str) -> None:
        if message != self._problem:
            LOG.warning("%s", message)  # once per problem, not once per cycle
            self._problem = message
        else:
            LOG.debug("still: %s", message)

    def _set_error(self, kind_: str, message: str) -> None:
        status = self.status
        same = status.last_error is not None and status.last_error["message"] == message
        since = status.last_error["since"] if same and status.last_error else report.iso(status.last_attempt)
        status.last_error = {"kind": kind_, "message": message, "since": since}

    def _wrote(self, outcome: Outcome) -> None:
        """What a run wrote and left, whether it succeeded or not."""
        for change in plan_mod.changes(outcome.ops):
            LOG.info("%s", output.change_line(change))
        current, ident = outcome.current, outcome.identity
        self.status.provider = {"name": ident.name, "uuid": ident.uuid} if current and ident else None
        self.status.classes = {
            rc: {"total": inv.total, "reserved": inv.reserved}
            for rc, inv in sorted(current.inventories.items())
        } if current else {}
        self.status.namespaces = {name: dict(v) for name, v in outcome.namespaces.items()}
        if outcome.usages_read and current is not None:
            self.status.used = {rc: (current.usages or {}).get(rc, 0) for rc in current.inventories}
            self.status.used_at = self.clock()
        for message in outcome.warnings:
            if message not in self._offered_warned:
                LOG.warning("%s", message)  # once, while it lasts
        self._offered_warned = set(outcome.warnings)

    def _succeeded(self, outcome: Outcome) -> None:
        self._wrote(outcome)
        status = self.status
        status.last_success = self.clock()
        status.consecutive_failures = 0
        if outcome.another_writer:
            message = another_writer_warning(self.conf.host, outcome)
            self._problem_started(message)
            status.state = errors.ANOTHER_WRITER.agent_state
            self._set_error(errors.ANOTHER_WRITER.name, message)
        else:
            if self._problem is not None:
                LOG.info("back in sync after: %s", self._problem)
                self._problem = None
            status.state = "in_sync"
            status.last_error = None
        self._failsafe(outcome)
        self._recreated(outcome)

    def _recreated(self, outcome: Outcome) -> None:
        """Warn once per namespace destroyed and re-created while a consumer may hold it."""
        for name, uuids in sorted(outcome.recreated.items()):
            if (name, uuids) not in self._recreated_warned:
                LOG.warning("%s", output.recreated_line(name, uuids))
        self._recreated_warned = set(outcome.recreated.items())

    def _failsafe(self, outcome: Outcome) -> None:
        """Say once when the fail-safe starts withholding units, and once when it ends."""
        before = self.status.failsafe
        withheld = outcome.withheld if outcome.failsafe else {}
        self.status.failsafe = output.failsafe_json(outcome.failsafe, withheld) \
            if outcome.failsafe is not None and withheld else None
        if self.status.failsafe and not before:
            assert outcome.failsafe is not None
            LOG.warning("%s", output.failsafe_line(outcome.failsafe, withheld))
        elif before and not self.status.failsafe:
            LOG.info("the fail-safe withholds nothing any more: its consumers are gone")

    def _failed(self, exc: BaseException) -> None:
        message = str(exc)
        self._problem_started(message)
        status = self.status
        kind = errors.kind_of(exc)
        status.state = kind.agent_state
        status.consecutive_failures += 1
        self._set_error(kind.name, message)
        status.errors[kind.name] = status.errors.get(kind.name, 0) + 1
