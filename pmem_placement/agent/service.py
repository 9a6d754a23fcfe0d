"""The agent as an oslo.service service: a loop thread that runs cycles on a schedule.

Launched by oslo.service's threading backend ``ServiceLauncher`` (see ``cmd/agent.py``): a
cotyledon master process keeps one worker running this service. On SIGHUP the master re-reads the
configuration files (keeping the last good configuration when the new one is invalid, see
``agent/config.py``) and the worker is restarted from it, so a new mapping, new traits or a new
interval apply at once. On SIGTERM, and on SIGHUP before the restart, ``stop`` ends the loop and
waits for it: a reconcile in progress finishes (its writes are never cut in half), bounded by
``[DEFAULT]graceful_shutdown_timeout``, then the worker exits 0.

Nothing ends the loop but ``stop``: a cycle that fails in an unexpected way is logged and the
loop goes on. Should the loop thread end anyway, the worker exits 1 and has the master end the
service with status 1, so that systemd restarts it; a loop that hangs stops pinging systemd's
watchdog. systemd hears RELOADING=1 from the master on SIGHUP, READY=1 from each worker once its
loop runs, and STOPPING=1 only on a real stop (see agent/systemd.py).
"""

import contextlib
import logging as std_logging
import multiprocessing
import os
import random
import signal
import threading
import time
import typing

import pmem_placement
from oslo_config import cfg
from oslo_log import log as logging
from oslo_service.backend.base import ServiceBase

from pmem_placement import errors
from pmem_placement import statedir
from pmem_placement import status_file
from pmem_placement.agent import events
from pmem_placement.agent import pidfile
from pmem_placement.agent import report
from pmem_placement.agent.cycle import Agent
from pmem_placement.agent.schedule import Schedule
from pmem_placement.agent.systemd import Notifier
from pmem_placement.placement.errors import CredentialsRefused

LOG = logging.getLogger(__name__)


def describe(conf: cfg.ConfigOpts) -> str:
    """host, mapping and interval: what an operator checks after a start or a reload."""
    if conf.pmem.mode == "audit":
        nova = ", ".join(list(conf.pmem.nova_config) + list(conf.pmem.nova_config_dir)) or "(none)"
        return f"host {conf.host!r}, mode audit of nova's configuration ({nova}), every {conf.agent.interval} s"
    traits = ", ".join(conf.pmem.traits) or "(none)"
    return (f"host {conf.host!r}, namespaces {conf.pmem.namespaces or '(none)'!r}, traits {traits}, "
            f"every {conf.agent.interval} s")


def _wakeable(agent: Agent) -> bool:
    """Whether a change on the host may end the wait: after a success, and after a failure that is
    the host's or the configuration's (a namespace withdrawn, discovery failed: what the change
    may mend), never while backing off from Placement's (events must not hammer it)."""
    error = agent.status.last_error
    if agent.status.consecutive_failures == 0 or not error:
        return True
    kind = errors.KINDS.get(error.get("kind", ""))
    # Credentials Keystone refused are the configuration's too, but a uevent does not mend them.
    return kind is not None and kind.exit_status == errors.EXIT_CONFIG and kind.name != CredentialsRefused.kind


class ReloadNoise(std_logging.Filter):
    """cotyledon's lines about the worker's restart on a reload ("Caught SIGTERM signal, graceful
    exiting of service", "Child N exited with status 0") read like a crash: while reloading,
    they are dropped; the restarted worker says "reloaded from ..." instead. A real stop, or a
    worker that dies, is still logged."""

    NOISE = ("Caught SIGTERM signal, graceful exiting of service", "Child %(pid)d exited with status %(code)d")

    def __init__(self, reloading: typing.Any) -> None:
        super().__init__()
        self.reloading = reloading

    def filter(self, record: std_logging.LogRecord) -> bool:
        if not self.reloading.value:
            return True
        exited = record.msg == self.NOISE[1] and isinstance(record.args, dict) and record.args.get("code") == 0
        return not (exited or str(record.msg).startswith(self.NOISE[0]))

    def install(self) -> None:
        for name in ("cotyledon._service_worker", "cotyledon._service_manager"):
            std_logging.getLogger(name).addFilter(self)


class AgentService(ServiceBase):
    def __init__(self, conf: cfg.ConfigOpts, started_before: typing.Any = None,
                 notifier: Notifier | None = None, pid_file: tuple[int, str] | None = None) -> None:
        self.conf = conf
        self.pid_file = pid_file
        """The descriptor holding ``<state_dir>/agent.pid``'s lock, and its path: rewritten on a
        reload, so that it says how the agent runs now."""
        # Shared memory inherited by every worker the master forks: set once the first worker
        # has started, so that a worker restarted by SIGHUP reconciles at once, without jitter.
        self.started_before = started_before if started_before is not None else multiprocessing.Value("b", 0)
        # Also shared with the workers: set by the master on SIGHUP (before it restarts the
        # worker), cleared by the restarted worker once it runs.
        self.reloading = multiprocessing.Value("b", 0)
        self.reload_refused = multiprocessing.Value("b", 0)
        # Reloads by result (applied, refused), and the last one's time and refusal: the master
        # counts them, the restarted worker reports them (status and metrics).
        self.reload_counts = multiprocessing.Array("i", 2)
        self.last_reload_at = multiprocessing.Value("d", 0.0)
        self.last_reload_error: typing.Any = multiprocessing.Array("c", 4096)  # a char array: .value
        # Set by a worker whose loop ended unexpectedly: the master then exits 1, not 0.
        self.loop_failed = multiprocessing.Value("b", 0)
        self.master_pid = os.getpid()
        self.notifier = notifier or Notifier()
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        """Set by ``stop`` and by the event listener (a change on the host)."""
        self._thread: threading.Thread | None = None
        self.rng = random.Random()

    def start(self) -> None:
        self._stop.clear()
        self._wakeup.clear()
        self._thread = threading.Thread(target=self._loop, name="pmem-placement-agent")
        self._thread.start()

    def _wait(self, seconds: float, wakeable: bool = True) -> bool:
        """Sleep up to ``seconds``, pinging the watchdog, or until a change on the host wakes it
        (``wakeable``: not while backing off from failures, so that events never hammer a
        Placement that is down); True when asked to stop."""
        ping = self.notifier.watchdog_interval
        deadline = time.monotonic() + seconds
        while True:
            self.notifier.watchdog()
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set():
                return self._stop.is_set()
            if self._wakeup.wait(min(left, ping) if ping else left):
                if self._stop.is_set():
                    return True
                if wakeable:
                    self._wakeup.clear()
                    return False
                # backing off: the change is seen by the cycle the backoff allows
                self._wakeup.clear()

    def reloaded(self, applied: bool, problem: str | None = None) -> None:
        """In the master, on SIGHUP, once the files are read (and before the worker restarts):
        systemd hears RELOADING=1 here and READY=1 from the restarted worker, and the worker
        that stops for the restart does not say STOPPING=1."""
        self.reload_refused.value = 0 if applied else 1
        self.reload_counts[0 if applied else 1] += 1
        self.last_reload_at.value = time.time()
        self.last_reload_error.value = (problem or "").encode()[:4095]
        self.reloading.value = 1
        if applied and self.pid_file is not None:
            problem = pidfile.record(*self.pid_file, self.conf)
            if problem:
                LOG.warning("[agent]state_dir: %s", problem)
        self.notifier.reloading()

    def _loop(self) -> None:
        agent = Agent(self.conf, heartbeat=self.notifier.watchdog, stopping=self._stop)
        agent_conf = self.conf.agent
        schedule = Schedule(agent_conf.interval, agent_conf.initial_jitter, agent_conf.max_backoff)
        files = ", ".join(self.conf.config_file or []) or "(none)"
        listener = self._listen(agent)
        self._report_reloads(agent)
        for name, value in status_file.remembered(status_file.path(self.conf.agent), self.conf.agent.state_dir,
                                                  self.conf.host).items():
            setattr(agent.status, name, value)
        if self.started_before.value:
            delay = 0.0
            if not self.reloading.value:
                LOG.warning("the agent's worker ended unexpectedly and was started again, with %s",
                            describe(self.conf))
            elif self.reload_refused.value:
                self.reload_refused.value = 0
                LOG.info("still running with the last good configuration: %s", describe(self.conf))
            else:
                LOG.info("reloaded from %s, running with %s", files, describe(self.conf))
                from pmem_placement import wiring

                wiring.warn_about_unknown_options(self.conf)  # as at start-up
        else:
            self.started_before.value = 1
            delay = schedule.first_delay(self.rng)
            LOG.info("pmem-placement-agent %s started with %s: %s; first reconcile in %.1f s",
                     pmem_placement.version(), files, describe(self.conf), delay)
        self.reloading.value = 0
        self.notifier.ready()
        try:
            self._cycles(agent, schedule, delay)
        finally:
            if listener is not None:
                listener.stop()
        master_alive = self.master_pid in (os.getpid(), os.getppid())  # (no fork: the tests' in-process loop)
        if not self.reloading.value and master_alive:
            agent.stopped()  # a real stop: not the restart of a reload, nor a master that died
        elif not self.reloading.value:
            LOG.error("the agent's master process has died; this worker ends without saying stopped "
                      "(monitoring sees the agent stale)")

    def _report_reloads(self, agent: Agent) -> None:
        applied, refused = self.reload_counts[:]
        agent.status.reloads = {"applied": applied, "refused": refused}
        if applied + refused:
            error = self.last_reload_error.value.decode(errors="replace") or None
            agent.status.last_reload = {"at": report.iso(self.last_reload_at.value),
                                        "applied": error is None, "error": error}

    def _listen(self, agent: Agent) -> events.Listener | None:
        """Start listening to the host's changes; said once, with what it means, when it cannot."""
        pmem = self.conf.pmem
        sources = events.open_sources(pmem.discovery, pmem.namespaces_file, pmem.sysfs_root)
        agent.status.events = sources.describe()
        if not sources.available:
            LOG.warning("events: %s: %s", agent.status.events, self._without_events())
            return None
        def failed(why: str) -> None:
            agent.status.events = f"unavailable ({why})"
            LOG.warning("events: %s: %s", agent.status.events, self._without_events())
        try:
            listener = events.Listener(sources, self._wakeup.set, failed=failed)
            listener.start()
        except (OSError, RuntimeError) as exc:  # no descriptor for its pipe, no thread
            sources.close()
            failed(f"the listener cannot start: {getattr(exc, 'strerror', None) or exc}")
            return None
        LOG.info("events: %s", agent.status.events)
        return listener

    def _without_events(self) -> str:
        return (f"namespace changes on this host reach Placement only at the next cycle, every [agent]interval = "
                f"{self.conf.agent.interval} s (later while backing off from failures, up to [agent]max_backoff)")

    def _cycles(self, agent: Agent, schedule: Schedule, delay: float) -> None:
        # The first start's jitter spreads a rack's first syncs: a change on the host does not cut it short.
        wakeable = not (agent.status.cycles == 0 and delay > 0)
        while not self._wait(delay, wakeable=wakeable):
            try:
                agent.cycle()
            except Exception:  # Agent.cycle catches everything it expects; this is a bug
                LOG.exception("unexpected error in the agent's cycle; the agent goes on")
                agent.status.consecutive_failures += 1
            if agent.waiting_for_compute_node:
                delay = schedule.interval  # nova not started yet: expected, no backoff
            else:
                delay = schedule.next_delay(agent.status.consecutive_failures, self.rng)
            agent.status.next_attempt = agent.clock() + delay
            wakeable = _wakeable(agent)
            # Both files, with the attempt now scheduled: monitoring compares it with the clock. The
            # cycle itself reports a file it cannot write.
            with contextlib.suppress(OSError, statedir.StateDirError):
                report.write(agent.status, status_file.path(self.conf.agent), self.conf.agent.metrics_file,
                             self.conf.agent.state_dir)

    def stop(self, graceful: bool = False) -> None:
        """End the loop and wait for the reconcile in progress (the cotyledon worker calls this
        on SIGTERM and SIGHUP and exits as soon as it returns; it bounds the wait with
        [DEFAULT]graceful_shutdown_timeout)."""
        self._stop.set()
        self._wakeup.set()
        if not self.reloading.value:
            self.notifier.stopping()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            if thread.is_alive():
                LOG.debug("waiting for the reconcile in progress before stopping")
            thread.join()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if not self._stop.is_set():
            # Not a respawned worker (cotyledon would restart it at once, again and again, with
            # systemd none the wiser): the whole service exits 1, and systemd restarts it.
            LOG.error("the agent's loop ended unexpectedly; the agent exits with status 1")
            self.loop_failed.value = 1
            if os.getpid() != self.master_pid:
                os.kill(self.master_pid, signal.SIGTERM)
            raise SystemExit(1)

    def reset(self) -> None:
        pass

