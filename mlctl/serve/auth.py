"""Who may call the model: Bearer JWTs from Vault/OpenBao, checked by the server itself.

With ``serving.auth.mode: jwt`` every model route (``/predict``, ``/preprocess``,
``/postprocess``, every OIP ``/v2/models/...`` route but readiness) and, if asked,
``/metrics`` need ``Authorization: Bearer <jwt>``:

- the signature verifies against the issuer's JSON Web Key Set (Vault's
  ``/v1/identity/oidc/.well-known/keys``) with an asymmetric algorithm (never ``none``
  or an HMAC keyed with a public key);
- ``exp`` is in the future and ``nbf``/``iat`` not (``leeway_s`` of clock skew), ``iss``
  is the issuer and ``aud`` the audience;
- the models claim holds ``<namespace>/<model>`` of this server, or the namespaces
  claim its namespace (or ``*``); for ``/metrics`` the metrics claim does.

Missing or invalid is 401 with ``WWW-Authenticate: Bearer``; valid but not granted is
403; the body never says which check failed. A verified token is remembered until it
expires, so a client reusing its token costs one dictionary lookup per request.

Keys: fetched off the event loop at start (readiness waits for them), again every few
minutes, and at once when a token names a key id the set does not hold — but at most
once per :data:`MIN_REFRESH_SECONDS`, so forged ``kid`` values cannot make the server
hammer Vault. A failed fetch keeps the keys already held.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
import requests
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from mlctl.bundle.schema import (
    CALLER_CLAIM,
    METRICS_CLAIM,
    MODEL_AUDIENCE,
    MODELS_CLAIM,
    NAMESPACES_CLAIM,
    AuthMode,
    ServingAuth,
)
from mlctl.serve.http import HttpError

#: Asymmetric algorithms Vault and OpenBao sign identity tokens with. Never ``none``,
#: never HS*: an HMAC "signed" with a published public key would verify otherwise.
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"]
#: A longer Authorization value is refused before any parsing (Vault's are about 1 KiB).
MAX_TOKEN_CHARS = 16 * 1024
MAX_JWKS_BYTES = 1 << 20
FETCH_TIMEOUT = (5.0, 5.0)  # connect, read
#: At most one key-set fetch per this many seconds, however many unknown kids arrive.
MIN_REFRESH_SECONDS = 10.0
#: Background refresh, so a key removed from the set stops being trusted.
REFRESH_EVERY_SECONDS = 300.0
#: Retry delays of the first fetch (the server is not ready until it succeeds).
FIRST_FETCH_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: A ``--workers`` worker shares the port with the others, so the kernel hands it
#: connections as soon as it listens: it waits this long for the keys before serving
#: (its readiness alone cannot keep traffic away, as a single server's does).
WORKER_KEYS_WAIT_SECONDS = 30.0
#: Verified tokens remembered at once; expired ones are dropped first when full.
MAX_CACHED_TOKENS = 10_000
REALM = "mlctl"

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class Access(Enum):
    """What a request asks for."""

    MODEL = "model"
    METRICS = "metrics"


@dataclass(frozen=True)
class AuthSettings:
    """The resolved auth of one server (flags and env over ``serving.auth``); picklable."""

    mode: AuthMode = AuthMode.NONE
    issuer: str = ""
    audience: str = MODEL_AUDIENCE
    jwks_url: str = ""
    jwks_ca_pem: str | None = None
    namespace: str = "default"
    models_claim: str = MODELS_CLAIM
    namespaces_claim: str = NAMESPACES_CLAIM
    metrics_token: bool = False
    metrics_claim: str = METRICS_CLAIM
    leeway_s: int = 30

    @classmethod
    def from_bundle(cls, section: ServingAuth, **overrides: Any) -> AuthSettings:
        """``serving.auth``, with the given non-None values (flags, env) winning."""
        values: dict[str, Any] = {
            "mode": section.mode or AuthMode.NONE,
            "issuer": section.issuer or "",
            "audience": section.audience,
            "jwks_url": section.jwks_url or "",
            "models_claim": section.models_claim,
            "namespaces_claim": section.namespaces_claim,
            "metrics_token": section.metrics == "token",
            "metrics_claim": section.metrics_claim,
            "leeway_s": section.leeway_s,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """A jwt server needs to know whose tokens to trust."""
        if self.mode is not AuthMode.JWT:
            return
        from mlctl.errors import ConfigError

        missing = [name for name in ("issuer", "jwks_url") if not getattr(self, name)]
        if missing:
            flags = " and ".join(f"--auth-{name.replace('_', '-')}" for name in missing)
            verb = "are" if len(missing) > 1 else "is"
            raise ConfigError(
                f"serving.auth.mode is jwt but {' and '.join(missing)} {verb} not set",
                hint=f"set serving.auth.{missing[0]} in mlctl.yaml, or give {flags}",
            )
        if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", self.jwks_url):
            raise ConfigError(
                f"auth key URL {self.jwks_url!r} is not an http:// or https:// URL",
                hint="e.g. https://vault:8200/v1/identity/oidc/.well-known/keys",
            )

    def describe(self, model: str) -> str:
        """The one line the server says at start about who may call it."""
        if self.mode is AuthMode.NONE:
            return (
                f"auth: none: anyone who can reach this port may call {model} "
                "(serving.auth.mode: jwt to require tokens)"
            )
        metrics = "needs a token" if self.metrics_token else "open"
        return (
            f"auth: jwt: {self.namespace}/{model} answers Bearer tokens of {self.issuer} "
            f"for audience {self.audience} (keys {self.jwks_url}); /metrics {metrics}"
        )


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called, for the access log: the token's ``sub`` and the name mlctl gave it."""

    subject: str
    name: str | None


@dataclass(slots=True)
class _Verified:
    """A token whose signature and claims checked out, and what it grants here."""

    expires_at: float
    not_before: float
    caller: Caller
    model: bool
    metrics: bool


class Unauthorized(HttpError):
    """401: no token, or one that does not verify (the body says no more)."""

    status = 401

    def __init__(self, message: str, *, invalid: bool) -> None:
        super().__init__(message)
        challenge = f'Bearer realm="{REALM}"'
        if invalid:
            challenge += ', error="invalid_token"'
        self.headers = {"www-authenticate": challenge}


class Forbidden(HttpError):
    """403: a valid token that does not grant this model (or its metrics)."""

    status = 403

    def __init__(self, message: str, caller: Caller) -> None:
        super().__init__(message)
        self.caller = caller  #: still logged: who tried
        self.headers = {"www-authenticate": f'Bearer realm="{REALM}", error="insufficient_scope"'}


class KeysUnavailable(HttpError):
    """503: no key set has been fetched yet, so no token can be checked."""

    status = 503


MISSING = "this model needs a bearer token: Authorization: Bearer <token>"
INVALID = "the bearer token is not valid"


class KeySource:
    """The issuer's key set: fetched off the event loop, refreshed at a bounded rate."""

    def __init__(
        self,
        url: str,
        ca_pem: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.keys: KeySet | None = None
        self.fetches = 0  #: attempts made (tests and the bench read it)
        self._ca_pem = ca_pem
        self._ca_file: str | None = None
        self._clock = clock
        self._on_error = on_error
        self._last_attempt = -MIN_REFRESH_SECONDS
        self._inflight: asyncio.Future[bool] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loaded: asyncio.Event | None = None

    def kids(self) -> set[str]:
        return {str(key.kid) for key in self.keys.keys} if self.keys is not None else set()

    def start(self) -> None:
        """First fetch (with retries) and the periodic refresh, on the running loop."""
        self._loaded = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._keep_fresh())

    async def wait_loaded(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) for the first key set; True once it is held."""
        if self.keys is None and self._loaded is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._loaded.wait(), timeout)
        return self.keys is not None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._ca_file is not None:
            Path(self._ca_file).unlink(missing_ok=True)

    async def _keep_fresh(self) -> None:
        delays = iter(FIRST_FETCH_BACKOFF)
        while self.keys is None:
            if await self.refresh(force=True):
                break
            await asyncio.sleep(next(delays, FIRST_FETCH_BACKOFF[-1]))
        while True:
            await asyncio.sleep(REFRESH_EVERY_SECONDS)
            await self.refresh(force=True)

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the set again; False without fetching when one ran too recently.

        Concurrent callers share one fetch. True when the set was fetched.
        """
        if self._inflight is not None:
            return await asyncio.shield(self._inflight)
        now = self._clock()
        if not force and now - self._last_attempt < MIN_REFRESH_SECONDS:
            return False
        self._last_attempt = now
        self.fetches += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._inflight = future

        def work() -> None:
            try:
                keys: KeySet | None = self._fetch()
                error = None
            except Exception as exc:  # reported, never raised into a request
                keys, error = None, f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(RuntimeError):  # the loop closed: stopping
                loop.call_soon_threadsafe(self._fetched, future, keys, error)

        # A daemon thread, not the loop's executor: stopping never waits for a fetch.
        threading.Thread(target=work, name="mlctl-jwks", daemon=True).start()
        return await asyncio.shield(future)

    def _fetched(
        self, future: asyncio.Future[bool], keys: KeySet | None, error: str | None
    ) -> None:
        self._inflight = None
        if keys is not None:
            self.keys = keys
            if self._loaded is not None:
                self._loaded.set()
        elif self._on_error is not None:
            self._on_error(f"could not fetch the token keys from {self.url}: {error}")
        if not future.done():
            future.set_result(keys is not None)

    def _verify(self) -> str | bool:
        if not self._ca_pem:
            return True
        if self._ca_file is None:
            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
                handle.write(self._ca_pem)
            self._ca_file = handle.name
        return self._ca_file

    def _fetch(self) -> KeySet:
        with requests.get(
            self.url, timeout=FETCH_TIMEOUT, verify=self._verify(), stream=True
        ) as response:
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError(f"the key set is larger than {MAX_JWKS_BYTES} bytes")
        document = orjson.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError('not a JSON Web Key Set (no "keys" list)')
        # Only signing keys of the algorithms we accept: an "oct" key would allow HMAC.
        usable = [k for k in document["keys"] if isinstance(k, dict) and k.get("kty") != "oct"]
        return KeySet.import_key_set({"keys": usable})


class Verifier:
    """Checks the Authorization header of requests to one served model."""

    def __init__(
        self,
        settings: AuthSettings,
        model: str,
        keys: KeySource,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.clock = clock
        self._model_grant = f"{settings.namespace}/{model}"
        self._cache: dict[str, _Verified] = {}

    @property
    def ready(self) -> bool:
        return self.keys.keys is not None

    def cached(self, header: str | None, access: Access) -> Caller | None:
        """The caller when this exact header was verified before — one dictionary lookup,
        no parsing, no await — or None when it must be verified (:meth:`check`)."""
        entry = self._cache.get(header) if header else None
        return None if entry is None else self._decide(str(header), entry, access)

    async def check(self, header: str | None, access: Access) -> Caller:
        """The caller, or Unauthorized / Forbidden / KeysUnavailable."""
        caller = self.cached(header, access)
        if caller is not None:
            return caller
        entry = await self._verify(_bearer(header))
        self._remember(str(header), entry)  # keyed by the header exactly as sent
        return self._decide(str(header), entry, access)

    def _decide(self, header: str, entry: _Verified, access: Access) -> Caller:
        now = self.clock()
        if now >= entry.expires_at or now < entry.not_before:
            self._cache.pop(header, None)
            raise Unauthorized(INVALID, invalid=True)
        if access is Access.MODEL and not entry.model:
            raise Forbidden("this token does not grant access to this model", entry.caller)
        if access is Access.METRICS and not entry.metrics:
            raise Forbidden("this token does not grant this server's metrics", entry.caller)
        return entry.caller

    async def _verify(self, token: str) -> _Verified:
        if self.keys.keys is None:
            raise KeysUnavailable("the server has no token keys yet; retry shortly")
        kid = _kid(token)
        if kid not in self.keys.kids() and not (
            await self.keys.refresh() and kid in self.keys.kids()
        ):
            raise Unauthorized(INVALID, invalid=True)
        assert self.keys.keys is not None
        try:
            decoded = jwt.decode(token, self.keys.keys, algorithms=ALGORITHMS)
            claims = dict(decoded.claims)
            self._registry().validate(claims)
        except (JoseError, ValueError, TypeError, KeyError):
            raise Unauthorized(INVALID, invalid=True) from None
        return self._entry(claims)

    def _registry(self) -> jwt.JWTClaimsRegistry:
        settings = self.settings
        return jwt.JWTClaimsRegistry(
            now=int(self.clock()),
            leeway=settings.leeway_s,
            iss={"essential": True, "value": settings.issuer},
            aud={"essential": True, "value": settings.audience},
            exp={"essential": True},
            sub={"essential": True},
        )

    def _entry(self, claims: dict[str, Any]) -> _Verified:
        settings = self.settings
        spaces = _strings(claims.get(settings.namespaces_claim))
        namespace_ok = settings.namespace in spaces or "*" in spaces
        models = _strings(claims.get(settings.models_claim))
        metrics = _strings(claims.get(settings.metrics_claim))
        name = claims.get(CALLER_CLAIM)
        leeway = settings.leeway_s
        nbf = claims.get("nbf")
        return _Verified(
            expires_at=float(claims["exp"]) + leeway,
            not_before=float(nbf) - leeway if isinstance(nbf, int | float) else 0.0,
            caller=Caller(str(claims["sub"]), name if isinstance(name, str) else None),
            model=namespace_ok or self._model_grant in models,
            metrics=settings.namespace in metrics or "*" in metrics,
        )

    def _remember(self, header: str, entry: _Verified) -> None:
        if len(self._cache) >= MAX_CACHED_TOKENS:
            now = self.clock()
            for key in [k for k, v in self._cache.items() if v.expires_at <= now]:
                del self._cache[key]
            while len(self._cache) >= MAX_CACHED_TOKENS:  # the oldest go first
                del self._cache[next(iter(self._cache))]
        self._cache[header] = entry


def _bearer(header: str | None) -> str:
    """The token of ``Bearer <token>`` (scheme in any case), or Unauthorized."""
    if not header:
        raise Unauthorized(MISSING, invalid=False)
    scheme, _, token = header.partition(" ")
    token = token.strip(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(MISSING, invalid=False)
    if len(token) > MAX_TOKEN_CHARS or not _COMPACT_JWS.fullmatch(token):
        raise Unauthorized(INVALID, invalid=True)
    return token


def _kid(token: str) -> str:
    """The ``kid`` of the token's protected header (required: Vault always sets one)."""
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, TypeError, UnicodeError):
        raise Unauthorized(INVALID, invalid=True) from None
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized(INVALID, invalid=True)
    return kid


def _strings(value: Any) -> set[str]:
    """A claim holding a list of strings (or one string) as a set; anything else empty."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()


def make_verifier(
    settings: AuthSettings, model: str, on_error: Callable[[str], None] | None = None
) -> Verifier | None:
    """The verifier a ``jwt`` server uses; None for ``none`` (no cost per request)."""
    if settings.mode is not AuthMode.JWT:
        return None
    keys = KeySource(settings.jwks_url, settings.jwks_ca_pem, on_error=on_error)
    return Verifier(settings, model, keys)
