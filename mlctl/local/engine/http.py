"""The HTTP machinery: request/reply types, the router with ACL guards and blocking
queries, and a ThreadingHTTPServer handler speaking HTTP/1.1 (chunked for streams)."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from . import acl
from .durations import parse_duration
from .jobops import ApiError

if TYPE_CHECKING:
    from .sim import NomadSim

JSON = dict[str, Any]
TEXT = "text/plain; charset=utf-8"
MAX_BODY_BYTES = 16 * 1024 * 1024  # a job with large embedded templates fits easily
MAX_CONNECTIONS = 256  # blocking queries and log/event streams each hold one
IDLE_TIMEOUT = 300.0  # seconds a kept-alive connection may sit idle (and a write may stall)
MAX_WAIT = 600.0
DEFAULT_WAIT = 300.0


@dataclass
class Request:
    """One API call as the handlers see it."""

    sim: NomadSim
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    raw_body: bytes
    groups: dict[str, str] = field(default_factory=dict)
    grant: acl.Grant = field(default_factory=lambda: acl.MANAGEMENT)

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        return (self.q(name) or "").lower() in ("1", "true", "t", "yes")

    @property
    def namespace(self) -> str:
        return self.q("namespace") or self.headers.get("x-nomad-namespace") or "default"

    @property
    def token(self) -> str | None:
        token = self.headers.get("x-nomad-token")
        auth = self.headers.get("authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        return token or None

    def json(self) -> Any:
        if not self.raw_body.strip():
            return {}
        try:
            return json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"Failed to decode request body: {exc}") from None

    def body(self) -> JSON:
        data = self.json()
        if not isinstance(data, dict):
            raise ApiError(400, "Failed to decode request body: expected a JSON object")
        return data

    # ACL helpers ------------------------------------------------------------

    def need_ns(self, capability: str, namespace: str | None = None) -> None:
        if not self.grant.allow_namespace(namespace or self.namespace, capability):
            raise ApiError(403, acl.PERMISSION_DENIED)

    def need(self, area: str, level: str) -> None:
        if not self.grant.allow_coarse(area, level):
            raise ApiError(403, acl.PERMISSION_DENIED)

    def need_management(self) -> None:
        if not self.grant.management:
            raise ApiError(403, acl.PERMISSION_DENIED)

    def namespaces_with(self, capability: str) -> list[str]:
        """Namespaces a list request covers: the one asked for, or all allowed ones for ``*``."""
        names = list(self.sim.cluster.namespaces) if self.namespace == "*" else [self.namespace]
        return [n for n in names if self.grant.allow_namespace(n, capability)]


@dataclass
class Reply:
    body: Any = None
    status: int = 200
    index: int | None = None
    content_type: str = "application/json"
    stream: Iterator[bytes] | None = None


class StreamAborted(Exception):
    """Raised by a stream generator to drop the connection mid-stream (steering)."""


Handler = Callable[[Request], Reply | Any]
Guard = Callable[[Request], None]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    guard: Guard | None
    tables: tuple[str, ...]
    locked: bool
    template: str = ""


class Router:
    """Maps method + path to handlers; runs the guard, then the blocking wait, then the handler."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        guard: Guard | None = None,
        tables: tuple[str, ...] = (),
        locked: bool = True,
    ) -> None:
        regex = "^" + re.sub(r":(\w+)", r"(?P<\1>[^/]+)", path) + "$"
        regex = regex.replace("(?P<path>[^/]+)", "(?P<path>.+)")  # variable paths contain slashes
        if path.startswith("/v1/job/:id"):
            # Job IDs may contain "/" (dispatched children: "parent/dispatch-..."); like
            # Nomad, the known suffix decides the endpoint (longest template wins below).
            regex = regex.replace("(?P<id>[^/]+)", "(?P<id>.+?)", 1)
        route = Route(method, re.compile(regex), handler, guard, tables, locked)
        route.template = path
        self.routes.append(route)

    def route(
        self,
        method: str,
        path: str,
        guard: Guard | None = None,
        tables: tuple[str, ...] = (),
        locked: bool = True,
    ) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.add(method, path, fn, guard, tables, locked)
            return fn

        return deco

    def dispatch(self, req: Request) -> Reply:
        req.sim.faults.check(req.path, req.sim.clock.now(), req.method)
        allowed = []
        best: tuple[Route, re.Match[str]] | None = None
        for route in self.routes:
            match = route.pattern.match(req.path)
            if not match:
                continue
            if route.method != req.method:
                allowed.append(route.method)
                continue
            if best is None or len(route.template) > len(best[0].template):
                best = (route, match)
        if best is not None:
            route, match = best
            req.groups = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            return self._run(route, req)
        if allowed:
            raise ApiError(405, "Invalid method")
        raise ApiError(404, "Invalid URL")

    def _run(self, route: Route, req: Request) -> Reply:
        store = req.sim.store
        region = req.q("region")
        if region and region != req.sim.cluster.region:
            raise ApiError(500, "No path to region")
        if req.path.startswith("/v1/acl/") and not req.sim.acls.enabled:
            # Nomad's ACL endpoints (policies, tokens, roles, auth methods, bootstrap, login)
            # all answer this (aclDisabled, coded 400) when the agent runs without ACLs.
            raise ApiError(400, "ACL support disabled")
        with store.lock:
            req.grant = req.sim.acls.resolve(req.token)
            if route.guard is not None:
                route.guard(req)
        if req.method == "GET" and route.tables and req.q("index"):
            try:
                after = int(req.q("index") or "0")
                wait = (
                    parse_duration(req.q("wait") or "5m") / 1e9 if req.q("wait") else DEFAULT_WAIT
                )
            except ValueError as exc:
                raise ApiError(400, f"Invalid blocking query: {exc}") from None
            store.wait_for_change(route.tables, after, min(max(wait, 0.0), MAX_WAIT))
        if route.locked:
            with store.lock:
                result = route.handler(req)
                index = store.max_index(route.tables) if route.tables else store.index
                store.commit()
        else:
            result = route.handler(req)
            index = store.index
        reply = result if isinstance(result, Reply) else Reply(result)
        if reply.index is None:
            reply.index = index
        return reply


class Handler_(BaseHTTPRequestHandler):
    """Turns raw HTTP into Request objects and Replies back into bytes."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    server: SimHTTPServer

    def setup(self) -> None:
        super().setup()
        # Small responses on a kept-alive connection: without NODELAY, Nagle holds the
        # next write until the client ACKs, and the client delays its ACK (~40 ms a call).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sim.verbose:
            super().log_message(format, *args)

    def _refusal(self) -> Reply | None:
        """Hostile-client checks before any work: loopback Host and Origin, body size."""
        host = self.headers.get("Host")
        if host is not None and not _loopback_host(host):
            # DNS rebinding: a web page's name resolving to 127.0.0.1 must not reach the API
            return Reply(f"Forbidden: Host {host!r} is not a loopback name", 403, content_type=TEXT)
        origin = self.headers.get("Origin")
        if origin is not None and not _loopback_host(urllib.parse.urlsplit(origin).netloc):
            return Reply(f"Forbidden: requests from {origin!r} are refused", 403, content_type=TEXT)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return Reply("Invalid Content-Length", 400, content_type=TEXT)
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return Reply(f"Request body larger than {MAX_BODY_BYTES} bytes", 413, content_type=TEXT)
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return Reply("Chunked request bodies are not accepted", 411, content_type=TEXT)
        return None

    def _handle(self) -> None:
        refusal = self._refusal()
        if refusal is not None:
            self._send(refusal)
            return
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        req = Request(
            sim=self.server.sim,
            method=self.command,
            path=url.path,
            params=urllib.parse.parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw_body=raw,
        )
        try:
            reply = self.server.sim.router.dispatch(req)
        except ApiError as exc:
            reply = Reply(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
        except Exception as exc:  # a simulator bug must still answer, and say so
            reply = Reply(
                f"simulator internal error: {type(exc).__name__}: {exc}",
                status=500,
                content_type="text/plain; charset=utf-8",
            )
            if self.server.sim.verbose:
                raise
        self._send(reply)

    def _common_headers(self, reply: Reply) -> list[tuple[str, str]]:
        return [
            ("Content-Type", reply.content_type),
            ("X-Nomad-Index", str(reply.index or self.server.sim.store.index)),
            ("X-Nomad-KnownLeader", "true"),
            ("X-Nomad-LastContact", "0"),
        ]

    def _send(self, reply: Reply) -> None:
        if reply.stream is not None:
            self._send_stream(reply)
            return
        if isinstance(reply.body, bytes):
            data = reply.body
        elif isinstance(reply.body, str):
            data = reply.body.encode()
        else:
            data = json.dumps(reply.body).encode()
        headers = [*self._common_headers(reply), ("Content-Length", str(len(data)))]
        self.log_request(reply.status)
        # Status line, headers and body leave in one send (one segment for small replies).
        head = self._head(reply.status, headers)
        self.wfile.write(head if self.command == "HEAD" else head + data)

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        reason = self.responses.get(status, ("",))[0]
        lines = [f"{self.protocol_version} {status} {reason}"]
        lines += [f"Server: {self.version_string()}", f"Date: {self.date_time_string()}"]
        lines += [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send_stream(self, reply: Reply) -> None:
        self.log_request(reply.status)
        headers = [*self._common_headers(reply), ("Transfer-Encoding", "chunked")]
        self.wfile.write(self._head(reply.status, headers))
        try:
            for chunk in reply.stream or ():
                if chunk:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, StreamAborted):
            pass  # StreamAborted: the connection drops without the closing chunk
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class SimHTTPServer(ThreadingHTTPServer):
    """One thread per connection, at most MAX_CONNECTIONS at once (more are closed)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: NomadSim) -> None:
        self.sim = sim
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, Handler_)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _loopback_host(host: str) -> bool:
    """``localhost``, ``127.x.y.z`` or ``[::1]``, with or without a port."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    if name in ("localhost", "::1") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
