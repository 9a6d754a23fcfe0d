"""The agent as the tests meet it outside its own process: ``pmem-placement-agent`` run as systemd
runs it, and the status file an agent leaves for the one-shot, ``check`` and ``show`` to read."""

import json
import os
import subprocess
import sys
import time

from pmem_placement import fingerprint
from pmem_placement.agent import report


def wait_for(predicate, timeout=60.0, what="condition"):
    """``predicate()`` once it is true, polled until ``timeout`` s have passed. 60 s by default: an
    agent's start (imports, first cycle) takes seconds alone and far longer with three suites on two
    cores; only a failure waits it out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Running:
    """``pmem-placement-agent`` on the node's configuration, in its own process, on a fast schedule
    (every 1 s, no jitter, backoff up to 2 s) unless ``agent_options`` say otherwise; its output in
    agent.log."""

    def __init__(self, node, placement=None, env=None, prelude="", **agent_options):
        """``prelude``: Python run in the agent's process before it starts."""
        self.node = node
        node.configure(agent={"interval": 1, "initial_jitter": 0, "max_backoff": 2,
                              "metrics_file": str(node.dir / "agent.prom"), **agent_options},
                       placement={"connect_retries": 0, "timeout": 5, **(placement or {})})
        node.write_config()
        self.log = open(node.dir / "agent.log", "w+")
        # Its own session: the agent's master signals its whole process group on SIGHUP.
        self.proc = subprocess.Popen(
            [sys.executable, "-c", f"{prelude}\nimport sys; from pmem_placement.cmd.agent import main; sys.exit(main())",
             "--config-file", str(node.config_file)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, **(env or {})})

    def status(self):
        try:
            return json.loads((self.node.dir / "state" / "status.json").read_text())
        except (OSError, ValueError):
            return None

    def wait_state(self, state, after_cycle=0):
        def check():
            s = self.status()
            return s if s and s["state"] == state and s["cycles"] > after_cycle else None
        return wait_for(check, what=f"agent state {state}; log:\n{self.output()}")

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def agent_fingerprint(node):
    """The configuration fingerprint an agent started on the node's configuration files records."""
    return fingerprint.of(node.conf())


def write_agent_status(node, pid, fingerprint_=None, last_attempt=None, state="in_sync", **fields):
    """The node's status file as agent ``pid`` writes it (last attempt: now unless given)."""
    (node.dir / "state").mkdir(exist_ok=True)
    report.write(report.Status(host=node.name, pid=pid, state=state,
                               last_attempt=time.time() if last_attempt is None else last_attempt,
                               config_fingerprint=fingerprint_, **fields),
                 str(node.dir / "state" / "status.json"), None)
