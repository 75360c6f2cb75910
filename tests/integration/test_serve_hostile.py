"""A real server on a loopback socket, attacked the way issue 14 did: raw sockets.

The server runs in a thread of the test process with small limits (so timeouts take
a second, not a minute); every test ends by showing the server is still live and ready.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

from mlctl.serve.http import EventLog
from mlctl.serve.options import ServeOptions
from mlctl.serve.protocol import ConnectionLimits
from mlctl.serve.server import LocalServer

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
LIMITS = ConnectionLimits(
    max_header_bytes=8192,
    max_headers=50,
    header_timeout=1.0,
    body_timeout=2.0,
    idle_timeout=1.0,
    max_connections=20,
)
PATIENCE = 30.0  # generous: waits end on a condition, this only bounds a broken server


@dataclass
class Running:
    local: LocalServer
    port: int

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=PATIENCE)
        return sock

    def get(self, path: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=PATIENCE) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def refused(self, reason: str) -> float:
        _, text = self.get("/metrics")
        for line in text.decode().splitlines():
            if line.startswith(f'mlctl_connections_refused_total{{reason="{reason}"}}'):
                return float(line.split()[-1])
        return 0.0

    def assert_ready(self) -> None:
        assert self.get("/readyz")[0] == 200


@pytest.fixture
def server() -> Iterator[Running]:
    options = ServeOptions(bundle_dir=IRIS, access_log=False, limits=LIMITS)
    local = LocalServer.build(options, port=0, log=EventLog(open("/dev/null", "w")))  # noqa: SIM115
    thread = threading.Thread(target=local.server.run, kwargs={"sockets": [local.sock]})
    thread.start()
    running = Running(local, local.port)
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            with contextlib.suppress(OSError):
                if running.get("/readyz")[0] == 200:
                    break
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.05)
        yield running
    finally:
        local.server.should_exit = True
        thread.join(timeout=PATIENCE)


def read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_header_over_the_limit_is_431_json(server: Running) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert answer.endswith(b'{"error":"request headers are over 8192 bytes"}')
    server.assert_ready()


def test_too_many_header_fields_are_431(server: Running) -> None:
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(60))
    with server.connect() as sock:
        sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"more than 50 fields" in answer
    server.assert_ready()


def test_a_huge_header_streamed_in_is_cut_off_while_probes_keep_answering(
    server: Running,
) -> None:
    """The issue's 128 MiB header stalled the loop for 15 s; here it stops at 8 KiB."""
    sent = 0
    with server.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with contextlib.suppress(ConnectionError):
            for _ in range(64 * 16):  # up to 64 MiB, in 64 KiB pieces
                sock.sendall(b"a" * 65536)
                sent += 65536
    assert sent < 64 * 1024 * 1024  # the server closed the connection early
    assert server.refused("headers") >= 1
    server.assert_ready()


def test_headers_sent_too_slowly_get_408(server: Running) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"headers took too long" in answer
    server.assert_ready()


def test_a_body_sent_too_slowly_ends_the_connection(server: Running) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        read_response(sock)  # returns once the server hangs up
    assert server.refused("body_timeout") >= 1
    server.assert_ready()


def test_silent_connections_never_lock_out_the_health_checks(server: Running) -> None:
    silent = [server.connect() for _ in range(3 * LIMITS.max_connections)]
    try:
        server.assert_ready()  # a new connection still gets in: the oldest idle one went
        assert server.refused("evicted") >= 1
        for sock in silent:  # every silent one is closed within the idle timeout
            sock.settimeout(PATIENCE)
            read_response(sock)
    finally:
        for sock in silent:
            sock.close()
    server.assert_ready()


def test_a_declared_oversized_body_is_refused_without_reading_it(server: Running) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n" + b"{" * 10
        )
        answer = read_response(sock)  # the server answers and hangs up, reading no more
    assert answer.startswith(b"HTTP/1.1 413 ")
    server.assert_ready()


def read_one(reader: BinaryIO, *, head_only: bool = False) -> tuple[bytes, bytes]:
    """One response from a keep-alive connection: (status line and headers, body)."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()
        assert line, f"the server closed the connection after {head!r}"
        head += line
    length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
    return head, b"" if head_only else reader.read(length)


def test_expect_100_continue_is_answered_before_the_body_is_sent(server: Running) -> None:
    body = b'{"features": [[5.1, 3.5, 1.4, 0.2]]}'
    with server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"  # never held back
        assert reader.readline() == b"\r\n"
        sock.sendall(body)
        head, answer = read_one(reader)
    assert head.startswith(b"HTTP/1.1 200 ") and answer == b'{"predictions":["setosa"]}'


def test_head_and_pipelined_requests_get_whole_answers_on_one_connection(
    server: Running,
) -> None:
    """Each response goes out in one write (head held until its body): a HEAD request,
    which has no body, and pipelined requests must still get every response, in order."""
    body = b'{"features": [[5.1, 3.5, 1.4, 0.2]]}'
    predict = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    with server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = read_one(reader, head_only=True)
        assert head.startswith(b"HTTP/1.1 200 ")
        sock.sendall(predict + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + predict)
        answers = [read_one(reader) for _ in range(3)]
    assert [answer for _, answer in answers] == [
        b'{"predictions":["setosa"]}',
        b'{"status":"alive"}',
        b'{"predictions":["setosa"]}',
    ]
    server.assert_ready()
