"""Serve a recorded event stream at full speed (for bench/monitor_bench.py).

``python bench/monitor_replay.py FILE`` listens on 127.0.0.1, prints ``ready URL`` and
answers every GET with the file's lines as ``/v1/event/stream`` sends them: one HTTP
chunk per frame, as Nomad flushes each frame. It runs in its own process so the
monitor's measurement does not share an interpreter (or its GIL) with the server.
"""

from __future__ import annotations

import contextlib
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> int:
    lines = Path(sys.argv[1]).read_bytes().splitlines()
    body = b"".join(f"{len(line) + 1:x}\r\n".encode() + line + b"\n\r\n" for line in lines)
    body += b"0\r\n\r\n"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"ready http://127.0.0.1:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
