"""A real openstack-placement in its own process for the benchmarks, with request statistics.

Prints its URL on stdout, then serves until its standard input closes. ``GET /__bench__/stats``
returns {"requests": N, "service_seconds": S, "by_method": {...}, "by_status": {...}}: counted and timed at the server
(one request at a time, like a single Placement API worker). Not part of the product.
"""

import collections
import json
import sys
import time

from pmem_placement import embedded


class Stats:
    def __init__(self):
        self.count = 0
        self.seconds = 0.0
        self.by_method = collections.Counter()
        self.by_status = collections.Counter()


def main() -> None:
    stats = Stats()

    def timed(app):
        def wrapper(environ, start_response):
            if environ.get("PATH_INFO") == "/__bench__/stats":
                body = json.dumps({"requests": stats.count, "service_seconds": stats.seconds,
                                   "by_method": dict(stats.by_method),
                                   "by_status": dict(stats.by_status)}).encode()
                start_response("200 OK", [("Content-Type", "application/json")])
                return [body]
            def counting_start_response(status, headers, exc_info=None):
                stats.by_status[status.split(None, 1)[0]] += 1
                return start_response(status, headers, exc_info)

            started = time.perf_counter()
            chunks = list(app(environ, counting_start_response))
            stats.seconds += time.perf_counter() - started
            stats.count += 1
            stats.by_method[environ["REQUEST_METHOD"]] += 1
            return chunks
        return wrapper

    # A fleet connects many agents at once: queue them like gunicorn's or uWSGI's listen backlog
    # would, instead of socketserver's 5 (connections beyond it time out on a busy server).
    embedded._Server.request_queue_size = 1024
    server = embedded.EmbeddedPlacement(sys.argv[1], middleware=timed)
    server.start()
    print(server.url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    server.stop()


if __name__ == "__main__":
    main()
