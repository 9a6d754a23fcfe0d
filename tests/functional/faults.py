"""Faults in front of the real Placement: a WSGI middleware and a loopback TCP proxy.

The middleware answers scripted requests itself (5xx, slow answers) or triggers a restart; the
proxy refuses connections or accepts them and never answers. Both only ever touch loopback.
"""

import json
import select
import socket
import threading
import time


class Applied:
    """A fault: Placement applies the request, then the client gets ``status`` instead of its
    answer (a proxy that lost the answer), so a retry replays a write that was applied."""

    def __init__(self, status):
        self.status = status


class Reshaped:
    """A fault: Placement answers, then ``change`` rewrites its JSON body (a proxy that alters
    answers, or something that is not quite Placement)."""

    def __init__(self, change):
        self.change = change


class Faults:
    """WSGI middleware. ``inject(n, fault)`` makes the next n matching requests fail: an int is
    that status without reaching Placement, a float a delay in seconds, ``Applied`` and
    ``Reshaped`` see there."""

    def __init__(self):
        self._queue = []
        self._lock = threading.Lock()
        self.after_write = None
        """Called (in the server thread) after each write Placement answered, with its count."""
        self.writes = 0

    def reset(self):
        with self._lock:
            self._queue.clear()
            self.after_write = None
            self.writes = 0

    def inject(self, count, fault, method=None, path_end=None):
        with self._lock:
            self._queue.extend([(method, path_end, fault)] * count)

    def _take(self, method, path):
        with self._lock:
            for i, (want, end, fault) in enumerate(self._queue):
                if want in (None, method) and (end is None or path.endswith(end)):
                    return self._queue.pop(i)[2]
        return None

    def __call__(self, app):
        def wrapped(environ, start_response):
            method = environ["REQUEST_METHOD"]
            fault = self._take(method, environ.get("PATH_INFO", ""))
            if isinstance(fault, int):
                body = json.dumps({"errors": [{"status": fault, "title": "injected", "detail": "injected fault"}]})
                start_response(f"{fault} Injected", [("Content-Type", "application/json")])
                return [body.encode()]
            if isinstance(fault, float):
                time.sleep(fault)  # a slow Placement
            if isinstance(fault, Applied):
                list(app(environ, lambda *args, **kwargs: None))
                start_response(f"{fault.status} Injected", [("Content-Type", "text/html")])
                result = [b"<html>answer lost</html>"]
            elif isinstance(fault, Reshaped):
                answered = []
                body = b"".join(app(environ, lambda status, headers, *rest: answered.append((status, headers))))
                status, headers = answered[0]
                body = json.dumps(fault.change(json.loads(body))).encode()
                headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
                start_response(status, headers)
                result = [body]
            else:
                result = list(app(environ, start_response))
            if method != "GET":
                self.writes += 1
                if self.after_write is not None:
                    self.after_write(self.writes)
            return result
        return wrapped


class Proxy:
    """A loopback TCP proxy to ``target_port``: mode 'forward', 'refuse' or 'blackhole'."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.mode = "forward"
        self._listener = None
        self.port = 0
        self._open()
        self._stopped = False
        self._held = []

    def _open(self):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self.port = sock.getsockname()[1]
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode):
        if mode == "refuse" and self._listener is not None:
            self._listener.close()  # nothing listens: connection refused
            self._listener = None
        elif mode != "refuse" and self._listener is None:
            self._open()
        self.mode = mode

    def _accept(self, sock):
        while True:
            try:
                client, _ = sock.accept()
            except OSError:
                return
            if self.mode == "blackhole":
                self._held.append(client)  # accepted, never answered
                continue
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        sockets = [client, upstream]
        try:
            while True:
                ready, _, _ = select.select(sockets, [], [], 30)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self):
        self.set("refuse")
        for s in self._held:
            s.close()
