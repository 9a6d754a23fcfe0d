"""A real openstack-placement, in this process, on a loopback port: for the demo, tests and bench.

sqlite in a directory of the caller's, ``noauth2`` (any request with ``X-Auth-Token: admin`` is
an admin), one request at a time, like a single Placement API worker. Requests are counted at
the server. Needs the ``openstack-placement`` package (the ``demo`` or ``test`` extra).

Placement configures its database engine once per process, so a process holds one embedded
Placement; it can be stopped and started again on the same port with its data kept.
"""

import os
import threading
import typing
from wsgiref import simple_server

TOKEN = "admin"

_app: typing.Any = None
_app_db: str | None = None
_app_lock = threading.Lock()


def _placement_app(db_path: str) -> typing.Any:
    global _app, _app_db
    with _app_lock:
        if _app is not None:
            if db_path != _app_db:
                raise RuntimeError(f"this process already runs an embedded Placement on {_app_db}")
            return _app
        from oslo_config import cfg
        from placement import conf as placement_conf
        from placement import db_api
        from placement import deploy

        conf = cfg.ConfigOpts()
        placement_conf.register_opts(conf)
        conf.set_override("connection", f"sqlite:///{db_path}", group="placement_database")
        conf([], project="placement", default_config_files=[], default_config_dirs=[])
        conf.set_override("sync_on_startup", True, group="placement_database")
        conf.set_override("auth_strategy", "noauth2", group="api")
        db_api.configure(conf)
        _app, _app_db = deploy.loadapp(conf), db_path
        return _app


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: typing.Any) -> None:
        pass


class _Server(simple_server.WSGIServer):
    allow_reuse_address = True


WSGIApp = typing.Callable[[dict[str, typing.Any], typing.Any], typing.Iterable[bytes]]


class EmbeddedPlacement:
    def __init__(self, data_dir: str, middleware: typing.Callable[[WSGIApp], WSGIApp] | None = None) -> None:
        """``middleware`` wraps Placement's WSGI app (to time or disturb requests)."""
        self._db = os.path.join(data_dir, "placement.sqlite")
        self._middleware = middleware
        self._wsgi: WSGIApp | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.requests: list[tuple[str, str]] = []
        """(method, path with query) of every request served, in order."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _app(self, environ: dict[str, typing.Any], start_response: typing.Any) -> typing.Any:
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        self.requests.append((environ["REQUEST_METHOD"], path))
        assert self._wsgi is not None
        return self._wsgi(environ, start_response)

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Serve (again) on the same port as before, or on a free one the first time."""
        if self._wsgi is None:
            app = _placement_app(self._db)
            self._wsgi = self._middleware(app) if self._middleware else app
        server = simple_server.make_server(
            "127.0.0.1", self.port, self._app, server_class=_Server, handler_class=_QuietHandler
        )
        self.port = server.server_port
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> "EmbeddedPlacement":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
