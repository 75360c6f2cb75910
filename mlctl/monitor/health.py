"""A tiny HTTP endpoint for Nomad's service check of the monitor job.

``GET /healthz`` answers 200 with the monitor's status while its loop is alive (it
made a pass within ``stale_after`` seconds), else 503; anything else is 404. It reads
no request body, answers only GET, and binds where ``--listen`` says.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        status: Callable[[], dict[str, Any]],
        last_pass: Callable[[], float],
        stale_after: float = 60.0,
    ) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "mlctl-monitor"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/healthz":
                    self._send(404, {"error": "not found"})
                    return
                alive = time.monotonic() - outer.last_pass() < outer.stale_after
                self._send(200 if alive else 503, {"alive": alive, **outer.status()})

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.status = status
        self.last_pass = last_pass
        self.stale_after = stale_after
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.timeout = 5
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
