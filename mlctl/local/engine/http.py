"""The HTTP machinery: request/reply types, the router with ACL guards and blocking
queries, and a ThreadingHTTPServer handler speaking HTTP/1.1 (chunked for streams)."""

from __future__ import annotations

import json
import re
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
        self.routes.append(Route(method, re.compile(regex), handler, guard, tables, locked))

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
        for route in self.routes:
            match = route.pattern.match(req.path)
            if not match:
                continue
            if route.method != req.method:
                allowed.append(route.method)
                continue
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
    server: SimHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sim.verbose:
            super().log_message(format, *args)

    def _handle(self) -> None:
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

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("X-Nomad-Index", str(reply.index or self.server.sim.store.index))
        self.send_header("X-Nomad-KnownLeader", "true")
        self.send_header("X-Nomad-LastContact", "0")
        if reply.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for chunk in reply.stream:
                    if chunk:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, StreamAborted):
                pass  # StreamAborted: the connection drops without the closing chunk
            self.close_connection = True
            return
        if isinstance(reply.body, bytes):
            data = reply.body
        elif isinstance(reply.body, str):
            data = reply.body.encode()
        else:
            data = json.dumps(reply.body).encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: NomadSim) -> None:
        self.sim = sim
        super().__init__(address, Handler_)
