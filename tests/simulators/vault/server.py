"""The HTTP front of the simulator: parse, authenticate, authorise, route, answer.

Order of checks follows Vault: unauthenticated endpoints (login, health) skip the
token; otherwise a missing, bad or expired token is 403 "permission denied"; then the
token's ACL must grant the operation's capability on the full request path (plus
``sudo`` on root-protected routes); only then does the backend run. An unknown path
answers 404 to a token that may touch it and 403 to one that may not.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.simulators.vault.approle import ApproleBackend
from tests.simulators.vault.identity import IdentityBackend
from tests.simulators.vault.nomad_engine import NomadEngine
from tests.simulators.vault.routing import Reply, Request, Route, handler_for, operation_of
from tests.simulators.vault.state import Core, VaultFailure, policy_denied
from tests.simulators.vault.system import SystemBackend
from tests.simulators.vault.tokens import TokenBackend
from tests.simulators.vault.userpass import UserpassBackend

Backend = Any  # any object with a ``routes`` list


class VaultSimulator:
    """An in-memory Vault dev server; ``start()`` serves it on 127.0.0.1."""

    def __init__(self, root_token: str | None = None) -> None:
        self.core = Core()
        self.root = self.core.issue_token(
            policies=["root"], path="auth/token/root", display_name="root", token_id=root_token
        )
        self.system = SystemBackend(self.core, self._mount_auth, self._mount_secret, self._unmount)
        self.backends: dict[str, Backend] = {
            "sys": self.system,
            "auth/token": TokenBackend(self.core),
            "identity": IdentityBackend(self.core, lambda: self.address),
        }
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.tls = False

    # -- steering -------------------------------------------------------------------------
    @property
    def root_token(self) -> str:
        return self.root.id

    @property
    def clock(self) -> Any:
        return self.core.clock

    def advance(self, seconds: float) -> None:
        """Move time forward; tokens and leases past their expiry are revoked."""
        with self.core.lock:
            self.core.clock.advance(seconds)
            self.core.expire_due()

    # -- mounts ---------------------------------------------------------------------------
    def _mount_auth(self, path: str, kind: str) -> None:
        backend = (
            UserpassBackend(self.core, path)
            if kind == "userpass"
            else ApproleBackend(self.core, path)
        )
        self.backends[f"auth/{path}"] = backend

    def _mount_secret(self, path: str, kind: str) -> None:
        if kind == "nomad":
            self.backends[path] = NomadEngine(self.core, path)

    def _unmount(self, prefix: str) -> None:
        self.backends.pop(prefix, None)

    # -- dispatch -------------------------------------------------------------------------
    def _route(self, path: str) -> tuple[Route, Any] | tuple[None, None]:
        candidates = sorted(
            (p for p in self.backends if path == p or path.startswith(p + "/")),
            key=len,
            reverse=True,
        )
        for prefix in candidates:
            for route in self.backends[prefix].routes:
                match = route.regex.fullmatch(path)
                if match:
                    return route, match
        return None, None

    def handle(self, request: Request) -> Reply:
        with self.core.lock:
            try:
                return self._handle(request)
            except VaultFailure as failure:
                return Reply(failure.status, {"errors": failure.errors})
            except Exception as exc:  # a simulator bug still answers, as Vault's 500 would
                return Reply(500, {"errors": [f"internal error: {type(exc).__name__}: {exc}"]})

    def _handle(self, request: Request) -> Reply:
        route, match = self._route(request.path)
        request.operation = operation_of(request, route, match)
        if route is None or not route.unauthenticated:
            request.token = self.core.lookup(request.token_id)
            acl_path = request.path
            if request.operation == "list" and not acl_path.endswith("/"):
                acl_path += "/"
            sudo = bool(route and route.sudo)
            if not self.core.acl_for(request.token).allows(acl_path, request.operation, sudo=sudo):
                raise policy_denied()
        if route is None or match is None:
            raise VaultFailure(
                404, f'no handler for route "{request.path}". route entry not found.'
            )
        handler = handler_for(route, request.operation)
        if handler is None:
            raise VaultFailure(405, "unsupported operation")
        return handler(request, match)

    # -- HTTP -----------------------------------------------------------------------------
    def start(self, port: int = 0, certfile: str | None = None, keyfile: str | None = None) -> str:
        """Serve on 127.0.0.1:port (0 picks a free port); returns the address."""
        simulator = self

        class Handler(_Handler):
            sim = simulator

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.tls = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self.address

    @property
    def address(self) -> str:
        assert self._server is not None, "not started"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    sim: VaultSimulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines would carry paths only, but tests keep output clean."""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not parts.path.startswith("/v1/"):
            self._send(Reply(404, {"errors": []}))
            return
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            self._send(Reply(400, {"errors": [f"failed to decode JSON input: {exc}"]}))
            return
        auth = self.headers.get("Authorization", "")
        token = self.headers.get("X-Vault-Token") or (
            auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        )
        request = Request(
            method=self.command.upper(),
            path=unquote(parts.path[len("/v1/") :]).rstrip("/") or "",
            body=body,
            query=dict(parse_qsl(parts.query)),
            token_id=token,
        )
        self._send(self.sim.handle(request))

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_LIST = _serve
