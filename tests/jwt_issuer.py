"""A stand-in token issuer for the model server's unit tests and the auth bench.

Real OpenBao issues the tokens in the integration and end-to-end tests; here an RSA key
of our own signs them and a loopback HTTP server publishes its JSON Web Key Set, so a
test can also do what Vault never would: sign with an unknown key, expire a token,
serve a broken key set, count fetches.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

ISSUER = "http://issuer.test/v1/identity/oidc"
AUDIENCE = "mlctl-models"


@dataclass
class LocalIssuer:
    """Signs tokens with ``key``; ``published`` are the keys its JWKS URL answers."""

    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    published: list[RSAKey] = field(default_factory=list)
    fetches: int = 0
    status: int = 200
    jwks_url: str = ""
    delays: list[float] = field(default_factory=list)
    """Seconds the next key-set answers take, in order (a slow Vault); then none."""

    def __post_init__(self) -> None:
        if not self.published:
            self.published = [self.key]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False, alg="RS256", use="sig") for k in self.published]}

    def token(
        self,
        *,
        models: list[str] | None = None,
        namespaces: list[str] | None = None,
        metrics: list[str] | None = None,
        ttl: float = 600,
        key: RSAKey | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "entity-1234",
            "iat": now,
            "exp": now + int(ttl),
            "mlctl_caller": "user:alice",
            "mlctl_models": models if models is not None else ["default/iris"],
            "mlctl_namespaces": namespaces or [],
            "mlctl_metrics": metrics or [],
        }
        body.update(claims)
        signer = key or self.key
        protected = {"alg": "RS256", "kid": signer.kid, **(header or {})}
        return jwt.encode(protected, body, signer)


@contextmanager
def serving_issuer(issuer: LocalIssuer | None = None) -> Iterator[LocalIssuer]:
    """``issuer`` with its JWKS on a loopback port (``issuer.jwks_url``)."""
    issuer = issuer or LocalIssuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.fetches += 1
            if issuer.delays:
                time.sleep(issuer.delays.pop(0))
            body = json.dumps(issuer.jwks()).encode()
            self.send_response(issuer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    issuer.jwks_url = (
        f"http://127.0.0.1:{server.server_address[1]}/v1/identity/oidc/.well-known/keys"
    )
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
