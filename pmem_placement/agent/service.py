"""The agent as an oslo.service service: a loop thread that runs cycles on a schedule.

Launched by oslo.service's threading backend ``ServiceLauncher`` (see ``cmd/agent.py``): a
cotyledon master process keeps one worker running this service. On SIGHUP the master and the
worker re-read the configuration files and the worker is restarted from the reloaded master,
so a new mapping, new traits or a new interval apply at once. On SIGTERM ``stop`` ends the loop:
a reconcile in progress finishes (its writes are never cut in half), then the process exits 0.
"""

import contextlib
import multiprocessing
import random
import threading
import typing

from oslo_config import cfg
from oslo_log import log as logging
from oslo_service.backend.base import ServiceBase

from pmem_placement.agent import report
from pmem_placement.agent.cycle import Agent
from pmem_placement.agent.schedule import Schedule
from pmem_placement.conf import agent as agent_conf

LOG = logging.getLogger(__name__)


class AgentService(ServiceBase):
    def __init__(self, conf: cfg.ConfigOpts, started_before: typing.Any = None) -> None:
        self.conf = conf
        # Shared memory inherited by every worker the master forks: set once the first worker
        # has started, so that a worker restarted by SIGHUP reconciles at once, without jitter.
        self.started_before = started_before if started_before is not None else multiprocessing.Value("b", 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rng = random.Random()

    def _schedule(self) -> Schedule:
        """[agent] timing; its defaults if a reload brought an invalid value (the agent must keep
        working until the file is fixed and reloaded again, not die and respawn in a loop)."""
        try:
            agent = self.conf.agent
            return Schedule(agent.interval, agent.initial_jitter, agent.max_backoff)
        except cfg.Error as exc:
            defaults = {opt.dest: opt.default for opt in agent_conf.list_opts()}
            LOG.error("%s; using the [agent] defaults until the configuration is fixed and reloaded", exc)
            return Schedule(defaults["interval"], defaults["initial_jitter"], defaults["max_backoff"])

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="pmem-placement-agent")
        self._thread.start()

    def _loop(self) -> None:
        agent = Agent(self.conf)
        schedule = self._schedule()
        if self.started_before.value:
            delay = 0.0
        else:
            self.started_before.value = 1
            delay = schedule.first_delay(self.rng)
            LOG.info("pmem-placement-agent for %s: first reconcile in %.1f s, then every %s s",
                     self.conf.host, delay, schedule.interval)
        while not self._stop.wait(delay):
            agent.cycle()
            if agent.waiting_for_compute_node:
                delay = schedule.interval  # nova not started yet: expected, no backoff
            else:
                delay = schedule.next_delay(agent.status.consecutive_failures, self.rng)
            agent.status.next_attempt = agent.clock() + delay
            with contextlib.suppress(OSError):  # the cycle itself reports a status file it cannot write
                report.write(agent.status, report.status_path(self.conf.agent), None)

    def stop(self, graceful: bool = False) -> None:
        self._stop.set()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def reset(self) -> None:
        pass
