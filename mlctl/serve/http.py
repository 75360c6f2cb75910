"""HTTP plumbing shared by the routes: JSON errors, bounded bodies, access log.

Every failure a client can see is ``{"error": "..."}`` (the OIP v2 error shape, which
the simple API shares), with ``error_id`` added for 500s so a user's report can be
matched to the traceback in the server log.
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlctl.serve.metrics import ServerMetrics

JSON_TYPE = "application/json"
LOG_SCOPE_KEY = "mlctl.log"


class HttpError(Exception):
    """An error answered with ``status`` and ``{"error": message}``."""

    status = 400
    #: Extra response headers (``WWW-Authenticate`` on 401/403).
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BodyTooLarge(HttpError):
    status = 413


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """orjson-encoded response; numpy arrays and scalars serialise natively."""
    body = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type=JSON_TYPE, headers=headers)


def error_response(
    message: str, status: int, error_id: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, str] = {"error": message}
    if error_id is not None:
        body["error_id"] = error_id
    return json_response(body, status, headers)


async def receive_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The body from ASGI ``receive``, refusing more than ``limit`` bytes.

    Content-Length (``declared``) is checked first so an honest oversized upload is
    refused before it is read; the running count catches chunked bodies and lying
    headers. Reads ``receive`` directly rather than through Starlette's ``stream()``
    generator: a single-message body (the usual request) is returned as it came.
    """
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body of {declared} bytes is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"request body is over the limit of {limit} bytes")
            if not message.get("more_body", False):
                if not chunks:
                    return chunk
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)
        elif kind == "http.disconnect":
            raise ClientDisconnect()


class RawResponse(Response):
    """A bytes response whose header list is built in one step.

    The same headers Starlette's ``Response`` sends for bytes (the given ones, then
    content-length and content-type), without its render and header-merging steps,
    which cost as much as the rest of a model route's event-loop work.
    """

    def __init__(
        self,
        body: bytes,
        status_code: int = 200,
        *,
        media_type: str = JSON_TYPE,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self.body = body
        raw: list[tuple[bytes, bytes]] = []
        if headers:
            raw.extend(
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            )
        if not (status_code < 200 or status_code in (204, 304)):
            raw.append((b"content-length", str(len(body)).encode("latin-1")))
        raw.append((b"content-type", media_type.encode("latin-1")))
        self.raw_headers = raw


class EventLog:
    """One JSON object per line on a stream (stderr): access lines and error reports.

    Access lines are batched and written every ``FLUSH_SECONDS`` from the event loop:
    stderr is line-buffered, so writing each line at once cost a system call per request
    (measured as a visible share of the request path under load). Error reports and
    lines written outside an event loop go out immediately.
    """

    FLUSH_SECONDS = 0.05

    def __init__(self, stream: TextIO | None = None, *, access: bool = True) -> None:
        self._stream = stream
        self.access = access
        self._pending: list[bytes] = []
        self._flush_handle: asyncio.TimerHandle | None = None

    def write(self, record: dict[str, Any], *, urgent: bool = False) -> None:
        self._pending.append(orjson.dumps(record))
        if urgent:
            self.flush()
            return
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_handle = loop.call_later(self.FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write out every pending line (also called on shutdown)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._pending:
            return
        lines = b"\n".join(self._pending).decode() + "\n"
        self._pending.clear()
        stream = self._stream or sys.stderr
        stream.write(lines)
        stream.flush()

    def error(self, error_id: str, message: str, exc: BaseException | None = None) -> None:
        """The server-side half of a failure: the id the client saw, plus the traceback
        when there is one worth reading (an unexpected exception, not a known refusal)."""
        record: dict[str, Any] = {
            "time": round(time.time(), 3),
            "level": "error",
            "error_id": error_id,
            "message": message,
        }
        if exc is not None:
            record["traceback"] = "".join(traceback.format_exception(exc))
        self.write(record, urgent=True)

    def warning(self, message: str) -> None:
        """Something the operator should see that failed no request (a key fetch)."""
        self.write(
            {"time": round(time.time(), 3), "level": "warning", "message": message}, urgent=True
        )

    def info(self, message: str, **fields: Any) -> None:
        self.write(
            {"time": round(time.time(), 3), "level": "info", "message": message, **fields},
            urgent=True,
        )


def new_error_id() -> str:
    return uuid.uuid4().hex[:16]


def note_error_id(request: Request, error_id: str) -> None:
    """Make the access-log line of this request carry the error id too."""
    record = request.scope.get(LOG_SCOPE_KEY)
    if isinstance(record, dict):
        record["error_id"] = error_id


class AccessLogMiddleware:
    """Pure ASGI middleware: access log line + request metrics, around every HTTP request.

    Written against raw ASGI rather than BaseHTTPMiddleware, which would add a task and
    a memory stream per request on the hot path.
    """

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics, log: EventLog) -> None:
        self.app = app
        self.metrics = metrics
        self.log = log
        # Labelled children looked up once per label set: .labels() takes a lock each call.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        record: dict[str, Any] = {}
        scope[LOG_SCOPE_KEY] = record
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            key = (template, scope["method"], status)
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = self.metrics.requests.labels(*key[:2], str(status))
            counter.inc()
            latency = self._latencies.get(template)
            if latency is None:
                latency = self._latencies[template] = self.metrics.latency.labels(template)
            latency.observe(elapsed)
            if self.log.access:
                line = {
                    "time": round(time.time(), 3),
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                }
                line.update(record)
                self.log.write(line)


Handler = Callable[[Request], Awaitable[Response]]
