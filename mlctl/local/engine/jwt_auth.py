"""Verifying a login JWT the way Nomad's JWT auth method does, for real.

The signature is checked with joserfc against the auth method's keys: the
``JWTValidationPubKeys`` PEMs, the JSON Web Key Set at ``JWKSURL`` (fetched over HTTP
at login, ``JWKSCACert`` trusted for TLS), or the ``jwks_uri`` of ``OIDCDiscoveryURL``.
Only ``SigningAlgs`` are accepted (``RS256`` by default), so ``alg: none`` and an HMAC
signed with a public key never pass. Then ``exp``/``nbf``/``iat`` (with Nomad's
leeways: 150 s unless configured, a negative leeway meaning none), ``iss`` against
``BoundIssuer`` and ``aud`` against ``BoundAudiences``.

Times are checked on the host clock, like the issuer's: the engine's simulated clock
runs fast for deployments and would expire a real Vault token in seconds.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from .durations import parse_duration

JSON = dict[str, Any]
DEFAULT_LEEWAY = 150.0  # seconds, hashicorp/cap's default for exp and nbf
DEFAULT_SKEW = 60.0  # seconds, for iat
FETCH_TIMEOUT = 10.0
MAX_JWKS_BYTES = 1 << 20


class TokenInvalid(ValueError):
    """The login token does not verify; the login answers 401 with this reason."""


@contextmanager
def _ca_file(pem: str | None) -> Iterator[str | bool]:
    if not pem:
        yield True
        return
    handle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)  # noqa: SIM115
    try:
        handle.write(pem)
        handle.close()
        yield handle.name
    finally:
        Path(handle.name).unlink(missing_ok=True)


def _fetch_json(url: str, ca_pem: str | None) -> JSON:
    with _ca_file(ca_pem) as verify:
        try:
            response = requests.get(url, timeout=FETCH_TIMEOUT, verify=verify)
        except requests.RequestException as exc:
            raise TokenInvalid(f"failed to fetch {url}: {type(exc).__name__}") from None
    if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
        raise TokenInvalid(f"failed to fetch {url}: HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise TokenInvalid(f"failed to decode keys from {url}") from None
    if not isinstance(data, dict):
        raise TokenInvalid(f"failed to decode keys from {url}")
    return data


def key_set(config: JSON) -> KeySet:
    """The verification keys named by an auth method's config."""
    pems = config.get("JWTValidationPubKeys") or []
    if pems:
        try:
            return KeySet([RSAKey.import_key(pem) for pem in pems])
        except (JoseError, ValueError) as exc:
            raise TokenInvalid(f"invalid JWTValidationPubKeys: {exc}") from None
    url = config.get("JWKSURL") or ""
    ca = config.get("JWKSCACert") or None
    if not url and config.get("OIDCDiscoveryURL"):
        base = str(config["OIDCDiscoveryURL"]).rstrip("/")
        discovery = _fetch_json(f"{base}/.well-known/openid-configuration", None)
        url = str(discovery.get("jwks_uri") or "")
    if not url:
        raise TokenInvalid("auth method has no keys to verify with")
    document = _fetch_json(url, ca)
    try:
        return KeySet.import_key_set(document)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise TokenInvalid(f"failed to decode keys from {url}: {exc}") from None


def _leeway(config: JSON, name: str, default: float) -> float:
    """Seconds of leeway: unset is the default, negative means none."""
    raw = config.get(name)
    if raw in (None, "", 0):
        return default
    if isinstance(raw, str):
        if raw.startswith("-"):
            return 0.0
        return parse_duration(raw) / 1e9
    return max(0.0, float(raw) / 1e9)


def check_claims(claims: JSON, config: JSON, now: float | None = None) -> None:
    """exp, nbf, iat, iss and aud, as the auth method's config requires."""
    now = time.time() if now is None else now
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat)):
        if value is not None and not isinstance(value, int | float):
            raise TokenInvalid(f"invalid {name} claim")
    if exp is None:
        raise TokenInvalid("token has no exp claim")
    if now > exp + _leeway(config, "ExpirationLeeway", DEFAULT_LEEWAY):
        raise TokenInvalid("token is expired")
    if nbf is not None and now < nbf - _leeway(config, "NotBeforeLeeway", DEFAULT_LEEWAY):
        raise TokenInvalid("token not valid yet")
    if iat is not None and now < iat - _leeway(config, "ClockSkewLeeway", DEFAULT_SKEW):
        raise TokenInvalid("token issued in the future")
    issuers = config.get("BoundIssuer") or []
    if issuers and claims.get("iss") not in issuers:
        raise TokenInvalid("invalid issuer (iss) claim")
    audiences = config.get("BoundAudiences") or []
    aud = claims.get("aud")
    presented = aud if isinstance(aud, list) else [aud] if aud else []
    if audiences and not set(map(str, presented)) & set(audiences):
        raise TokenInvalid("invalid audience (aud) claim")


def validate(token: str, config: JSON, now: float | None = None) -> JSON:
    """The verified claims of ``token``, or :class:`TokenInvalid` saying why not."""
    algorithms = list(config.get("SigningAlgs") or ["RS256"])
    keys = key_set(config)
    try:
        decoded = jwt.decode(token, keys, algorithms=algorithms)
    except JoseError as exc:
        raise TokenInvalid(f"failed to verify signature: {exc.error}") from None
    except (ValueError, TypeError) as exc:
        raise TokenInvalid(f"malformed token: {exc}") from None
    claims = dict(decoded.claims)
    check_claims(claims, config, now)
    return claims


def claim_value(claims: JSON, pointer: str) -> Any:
    """A claim by name, or by JSON Pointer (``/groups/primary``) for nested data."""
    if not pointer.startswith("/"):
        return claims.get(pointer)
    value: Any = claims
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def selector_data(claims: JSON, config: JSON) -> JSON:
    """``{"value": {...}, "list": {...}}`` from the claim mappings (bexpr's input)."""
    values: dict[str, str] = {}
    for claim, name in (config.get("ClaimMappings") or {}).items():
        value = claim_value(claims, claim)
        if isinstance(value, str | int | float | bool):
            values[name] = _stringify(value)
    lists: dict[str, list[str]] = {}
    for claim, name in (config.get("ListClaimMappings") or {}).items():
        value = claim_value(claims, claim)
        if isinstance(value, list):
            lists[name] = [_stringify(v) for v in value if isinstance(v, str | int | float | bool)]
        elif isinstance(value, str | int | float | bool):
            lists[name] = [_stringify(value)]
    return {"value": values, "list": lists}
