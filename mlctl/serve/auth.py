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

The keys are :mod:`mlctl.serve.jwks`'s: fetched at start (readiness waits for them),
refreshed on an unknown ``kid`` at a bounded rate.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError

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
from mlctl.serve.jwks import KeySource

#: Asymmetric algorithms Vault and OpenBao sign identity tokens with. Never ``none``,
#: never HS*: an HMAC "signed" with a published public key would verify otherwise.
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"]
#: A longer Authorization value is refused before any parsing (Vault's are about 1 KiB).
MAX_TOKEN_CHARS = 16 * 1024
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
