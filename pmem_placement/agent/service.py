"""The agent as an oslo.service service: a loop thread that runs cycles on a schedule.

Launched by oslo.service's threading backend ``ServiceLauncher`` (see ``cmd/agent.py``): a
cotyledon master process keeps one worker running this service. On SIGHUP the master re-reads the
configuration files (keeping the last good configuration when the new one is invalid, see
``agent/config.py``) and the worker is restarted from it, so a new mapping, new traits or a new
interval apply at once. On SIGTERM, and on SIGHUP before the restart, ``stop`` ends the loop and
waits for it: a reconcile in progress finishes (its writes are never cut in half), bounded by
``[DEFAULT]graceful_shutdown_timeout``, then the worker exits 0.

Nothing ends the loop but ``stop``: a cycle that fails in an unexpected way is logged and the
loop goes on. Should the loop thread end anyway, ``wait`` exits the worker with status 1 so that
it is restarted, and a loop that hangs stops pinging systemd's watchdog.
"""

import multiprocessing
import random
import threading
import time
import typing

from oslo_config import cfg
from oslo_log import log as logging
from oslo_service.backend.base import ServiceBase

from pmem_placement.agent.cycle import Agent
from pmem_placement.agent.schedule import Schedule
from pmem_placement.agent.systemd import Notifier

LOG = logging.getLogger(__name__)


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pmem-placement")
    except metadata.PackageNotFoundError:
        return "unknown"


def describe(conf: cfg.ConfigOpts) -> str:
    """host, mapping and interval: what an operator checks after a start or a reload."""
    traits = ", ".join(conf.pmem.traits) or "(none)"
    return (f"host {conf.host!r}, namespaces {conf.pmem.namespaces or '(none)'!r}, traits {traits}, "
            f"every {conf.agent.interval} s")


class AgentService(ServiceBase):
    def __init__(self, conf: cfg.ConfigOpts, started_before: typing.Any = None,
                 notifier: Notifier | None = None) -> None:
        self.conf = conf
        # Shared memory inherited by every worker the master forks: set once the first worker
        # has started, so that a worker restarted by SIGHUP reconciles at once, without jitter.
        self.started_before = started_before if started_before is not None else multiprocessing.Value("b", 0)
        self.notifier = notifier or Notifier()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rng = random.Random()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="pmem-placement-agent")
        self._thread.start()

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, pinging the watchdog; True when asked to stop."""
        ping = self.notifier.watchdog_interval
        deadline = time.monotonic() + seconds
        while True:
            self.notifier.watchdog()
            left = deadline - time.monotonic()
            if left <= 0:
                return self._stop.is_set()
            if self._stop.wait(min(left, ping) if ping else left):
                return True

    def _loop(self) -> None:
        agent = Agent(self.conf, heartbeat=self.notifier.watchdog)
        agent_conf = self.conf.agent
        schedule = Schedule(agent_conf.interval, agent_conf.initial_jitter, agent_conf.max_backoff)
        files = ", ".join(self.conf.config_file or []) or "(none)"
        if self.started_before.value:
            delay = 0.0
            LOG.info("reloaded from %s, running with %s", files, describe(self.conf))
        else:
            self.started_before.value = 1
            delay = schedule.first_delay(self.rng)
            LOG.info("pmem-placement-agent %s started with %s: %s; first reconcile in %.1f s",
                     version(), files, describe(self.conf), delay)
        self.notifier.ready()
        while not self._wait(delay):
            try:
                agent.cycle()
            except Exception:  # Agent.cycle catches everything it expects; this is a bug
                LOG.exception("unexpected error in the agent's cycle; the agent goes on")
                agent.status.consecutive_failures += 1
            if agent.waiting_for_compute_node:
                delay = schedule.interval  # nova not started yet: expected, no backoff
            else:
                delay = schedule.next_delay(agent.status.consecutive_failures, self.rng)

    def stop(self, graceful: bool = False) -> None:
        """End the loop and wait for the reconcile in progress (the cotyledon worker calls this
        on SIGTERM and SIGHUP and exits as soon as it returns; it bounds the wait with
        [DEFAULT]graceful_shutdown_timeout)."""
        self._stop.set()
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
            LOG.error("the agent's loop ended unexpectedly; exiting with status 1 to be restarted")
            raise SystemExit(1)

    def reset(self) -> None:
        pass

