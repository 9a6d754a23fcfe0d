"""systemd's notify protocol for the agent: READY once the worker runs, WATCHDOG from its loop,
RELOADING from the master on SIGHUP, STOPPING only when the agent really stops.

oslo.service's ``systemd`` module sends only READY=1, and the cotyledon master sends it too, as
soon as the master starts, before any worker runs. So ``from_environment`` takes NOTIFY_SOCKET
out of the environment before the launcher runs (the master then stays silent) and keeps it for
the worker, which says READY=1 once its loop runs and WATCHDOG=1 from that loop (between cycles,
while waiting, and before each request to Placement): a wedged loop stops the pings and systemd
restarts the agent. The unit sets ``NotifyAccess=all`` so that the worker may notify.
"""

import contextlib
import dataclasses
import os
import socket
import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Notifier:
    socket_path: str | None = None
    watchdog_usec: int = 0
    _last_ping: float | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_environment(cls) -> "Notifier":
        path = os.environ.pop("NOTIFY_SOCKET", None) or None
        try:
            usec = int(os.environ.get("WATCHDOG_USEC", "0"))
        except ValueError:
            usec = 0
        return cls(path, usec if path else 0)

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between two pings (half of WatchdogSec=), None without a watchdog."""
        return self.watchdog_usec / 2e6 if self.watchdog_usec > 0 else None

    def notify(self, message: str) -> None:
        if not self.socket_path:
            return
        address = self.socket_path
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # Never blocks: a notification systemd's full queue cannot take is dropped, the loop
        # that sends it goes on.
        sock.setblocking(False)
        with contextlib.closing(sock):
            try:
                sock.connect(address)
                sock.send(message.encode())
            except OSError as exc:
                LOG.debug("systemd notification %s failed: %s", message, exc)

    def ready(self) -> None:
        self.notify("READY=1")

    def watchdog(self) -> None:
        """WATCHDOG=1, at most every quarter of WatchdogSec= however often it is called (before
        each request, while waiting for a lock)."""
        if not self.watchdog_usec:
            return
        now = time.monotonic()
        if self._last_ping is not None and now - self._last_ping < self.watchdog_usec / 4e6:
            return
        self._last_ping = now
        self.notify("WATCHDOG=1")

    def reloading(self) -> None:
        """RELOADING=1, answered by READY=1 from the restarted worker. MONOTONIC_USEC is what
        Type=notify-reload (systemd 253) asks for; older systemd ignores it."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.notify(f"RELOADING=1\nMONOTONIC_USEC={usec}")

    def stopping(self) -> None:
        """Only on a real stop: from a running (or reloading) unit, systemd takes STOPPING=1 as
        the start of a stop that a later READY=1 does not undo."""
        self.notify("STOPPING=1")
