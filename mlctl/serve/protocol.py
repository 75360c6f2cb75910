"""The HTTP connection layer, hardened against hostile clients.

uvicorn's httptools protocol trusts the peer: request lines and headers of any size are
accumulated (by repeated concatenation: a 128 MiB header stalled the event loop for
15 s), any number of headers is taken, a connection that never sends a byte is kept
forever, and a body may trickle in for as long as the client likes. Every one of those
costs the server memory, file descriptors or event-loop time that the health checks
then miss. This subclass bounds each of them:

- the request line plus headers: at most ``max_header_bytes`` and ``max_headers``
  fields, else 431 and the connection is closed;
- a request's headers must arrive within ``header_timeout`` seconds (408 otherwise)
  and its body within ``body_timeout`` seconds;
- an idle connection (nothing in progress) is closed after ``idle_timeout`` seconds,
  from the moment it opens as well as after each response;
- at most ``max_connections`` connections: a new one beyond that evicts the oldest
  idle connection, or is answered 503 and closed when every connection is busy.
  Silent connections can therefore never lock out the health checks.

Refusals are JSON like every other error the server sends. Deadlines are checked by one
sweep per second over all connections rather than a timer per request, so the hot path
pays only for storing a timestamp.

uvicorn writes a response's status line and headers, then its body, as two socket
writes: two system calls and two TCP segments for every small answer. A response cycle
here writes through :class:`CoalescedWrites`, which holds the head until the first body
bytes (or the end of the response) and sends both in one write.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: File descriptors kept free for everything that is not a client connection (the model
#: files, log streams, the event loop's own, a health check arriving at a full server).
FD_RESERVE = 64
SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class ConnectionLimits:
    """How much one client connection may cost; the README's serve section lists them."""

    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    idle_timeout: float = 5.0
    max_connections: int = 1000


def effective_max_connections(wanted: int) -> int:
    """``wanted``, lowered to fit the process's file-descriptor limit with a reserve."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


#: The one thing uvicorn writes before a response head: never held back (the client waits).
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class CoalescedWrites:
    """The transport a connection's response cycles write to: one write per small response.

    The first write of each response is its head; it is held and sent together with the
    next write (the body), or on its own when the response ends or the connection
    closes first. Everything else goes straight to the real transport, which keeps its
    own flow control.
    """

    __slots__ = ("_expect_head", "_held", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._held: bytes | None = None
        self._expect_head = True

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self.transport.write(held + data)
        elif self._expect_head and data != CONTINUE:
            self._expect_head = False
            self._held = data
        else:
            self.transport.write(data)

    def response_done(self) -> None:
        """The response is complete: send whatever is held; the next write is a head."""
        if self._held is not None:
            self.flush()
        self._expect_head = True

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _HeaderLimit(Exception):
    """Raised from a parser callback to stop parsing a request over the header limits."""


class ConnectionGuard:
    """The connections of one server: admission, eviction and the deadline sweep."""

    def __init__(
        self, limits: ConnectionLimits, on_refusal: Callable[[str], None] | None = None
    ) -> None:
        self.limits = limits
        self.max_connections = effective_max_connections(limits.max_connections)
        self.on_refusal = on_refusal
        self.connections: dict[GuardedHttpToolsProtocol, None] = {}  # oldest first
        self._sweep_handle: asyncio.TimerHandle | None = None

    def admit(self, connection: GuardedHttpToolsProtocol) -> bool:
        """Register ``connection``; False when the server is full of busy connections."""
        self.connections[connection] = None
        self._ensure_sweep(connection.loop)
        if len(self.connections) <= self.max_connections:
            return True
        oldest_idle = next(
            (c for c in self.connections if c is not connection and c.is_idle()), None
        )
        if oldest_idle is None:
            return False
        self.refused("evicted")
        oldest_idle.close()
        return True

    def forget(self, connection: GuardedHttpToolsProtocol) -> None:
        self.connections.pop(connection, None)

    def refused(self, reason: str) -> None:
        if self.on_refusal is not None:
            self.on_refusal(reason)

    def _ensure_sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sweep_handle is None:
            self._sweep_handle = loop.call_later(SWEEP_SECONDS, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweep_handle = None
        now = loop.time()
        for connection in list(self.connections):
            connection.enforce_deadlines(now)
        if self.connections:
            self._ensure_sweep(loop)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of a :class:`ConnectionGuard`."""

    def __init__(self, *args: Any, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard
        self.limits = guard.limits
        self._reading_headers = True  # the next bytes belong to a request line or headers
        self._header_bytes = 0
        self._message_started: float | None = None  # loop time the current request began
        self._idle_since = 0.0
        self.writes: CoalescedWrites  # set with the transport, in connection_made

    # --- connection lifetime -----------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.writes = CoalescedWrites(transport)
        self._idle_since = self.loop.time()
        if not self.guard.admit(self):
            self.guard.refused("connections")
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, "too many connections; retry later")

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        super().connection_lost(exc)

    def is_idle(self) -> bool:
        """Nothing in progress: no request being received, handled or queued."""
        return (
            self._message_started is None
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
        )

    def close(self) -> None:
        if not self.transport.is_closing():
            self.writes.flush()  # a response head held back still goes out, as it would have
            self.transport.close()

    def enforce_deadlines(self, now: float) -> None:
        """Called by the guard's sweep: end connections that overstayed a limit."""
        started = self._message_started
        if started is None:
            if self.is_idle() and now - self._idle_since > self.limits.idle_timeout:
                self.close()
        elif self._reading_headers and now - started > self.limits.header_timeout:
            self.guard.refused("header_timeout")
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, "request headers took too long")
        elif not self._reading_headers and now - started > self.limits.body_timeout:
            self.guard.refused("body_timeout")
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, "request body took too long")

    # --- bytes in ------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        """Feed the parser, never more than the header budget while headers are read."""
        self._unset_keepalive_if_required()
        if self._reading_headers:
            counted = self._header_bytes + len(data)
            if counted > self.limits.max_header_bytes:
                self._feed_within_budget(data)
                return
            self._header_bytes = counted
        # The usual case (a whole small request in one read), fed inline: this runs for
        # every request, and a call less per request is measurable under load.
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._parse_failed(exc)
        except httptools.HttpParserUpgrade:
            pass  # no upgrades are served: the request was answered as plain HTTP

    def _feed_within_budget(self, data: bytes) -> None:
        """Feed up to the header budget, then refuse: headers never grow past the limit."""
        while data and not self.transport.is_closing():
            if self._reading_headers:
                room = self.limits.max_header_bytes - self._header_bytes
                if room <= 0:
                    self._header_limit(f"over {self.limits.max_header_bytes} bytes")
                    return
                chunk, data = data[:room], data[room:]
                self._header_bytes += len(chunk)
            else:
                chunk, data = data, b""
            if not self._feed(chunk):
                return

    def _feed(self, chunk: bytes) -> bool:
        try:
            self.parser.feed_data(chunk)
        except httptools.HttpParserError as exc:
            self._parse_failed(exc)
            return False
        except httptools.HttpParserUpgrade:
            pass  # no upgrades are served: the request was answered as plain HTTP
        return True

    def _parse_failed(self, exc: httptools.HttpParserError) -> None:
        """A parser callback over a header limit answers 431; anything else is a 400."""
        if isinstance(exc, httptools.HttpParserCallbackError) and isinstance(
            exc.__context__, _HeaderLimit
        ):
            self._header_limit(str(exc.__context__))
        else:
            self._refuse(HTTPStatus.BAD_REQUEST, "invalid HTTP request")

    def _header_limit(self, why: str) -> None:
        self.guard.refused("headers")
        self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, f"request headers are {why}")

    def send_400_response(self, msg: str) -> None:
        self._refuse(HTTPStatus.BAD_REQUEST, "invalid HTTP request")

    # --- parser callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._message_started = self.loop.time()

    def on_headers_complete(self) -> None:
        # Counted once here rather than per field: the byte limit already bounds the work.
        if len(self.headers) > self.limits.max_headers:
            raise _HeaderLimit(f"more than {self.limits.max_headers} fields")
        self._reading_headers = False
        self._header_bytes = 0
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = cast(asyncio.Transport, self.writes)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._message_started = None
        self._reading_headers = True

    def on_response_complete(self) -> None:
        self.writes.response_done()
        if self._message_started is not None and not self._reading_headers:
            # Answered before its body was all sent (e.g. 413): reading the rest would
            # only cost time, so end the connection instead.
            self.close()
            return
        super().on_response_complete()
        self._idle_since = self.loop.time()

    # --- refusing ---------------------------------------------------------------------------
    def _refuse(self, status: HTTPStatus, message: str) -> None:
        """Answer ``status`` with a JSON error and close, unless a response is under way."""
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.close()  # the app owns the response stream; just end the connection
            return
        body = orjson.dumps({"error": message})
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        self.close()
