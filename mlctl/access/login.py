"""A person's session: log in, keep the tokens fresh, log out, and say who you are.

``login`` trades a username and password for a Vault token, reads the user's own
``nomad/creds/mlctl-user-<name>`` with it (Vault mints a Nomad ACL token under a
lease owned by the Vault token) and caches both, 0600, with their expiry times.
``logout`` revokes the Vault token, which revokes the lease and so deletes the Nomad
token in Nomad; then it forgets the cache.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from typing import Any

from mlctl import redact
from mlctl.access.roles import check_username, namespaces_of, nomad_role, role_from_policies
from mlctl.credentials import CachedLogin, forget_login, read_login, write_login
from mlctl.errors import AuthError, MlctlError, PermissionDenied, Unreachable
from mlctl.nomad.acl import job_names, namespaces, token_self
from mlctl.nomad.client import NomadClient
from mlctl.nomad.client import connect as nomad_connect
from mlctl.output import note
from mlctl.settings import Settings
from mlctl.vault import leases, nomad_engine, tokens, userpass
from mlctl.vault.client import connect


def _nomad_as(settings: Settings, secret: str) -> NomadClient:
    return nomad_connect(settings, token=secret)


def login(settings: Settings, name: str, password: str) -> CachedLogin:
    """Log in and cache the tokens; returns what was cached."""
    check_username(name)
    redact.register(password)
    auth = userpass.login(connect(settings), name, password)
    vault_token = str(auth["client_token"])
    now = time.time()
    as_user = connect(settings, vault_token)
    try:
        creds = nomad_engine.mint(as_user, nomad_role(name))
    except MlctlError:
        tokens.revoke_self(as_user)  # leave no half-login behind
        raise
    role = role_from_policies(auth.get("policies") or [])
    cached = CachedLogin(
        username=name,
        vault_token=vault_token,
        vault_expires_at=now + int(auth.get("lease_duration") or 0),
        nomad_token=creds.secret_id,
        nomad_accessor=creds.accessor_id,
        nomad_expires_at=now + creds.lease_duration,
        nomad_lease_id=creds.lease_id,
        role=role.value if role else None,
        namespaces=tuple(_granted_namespaces(settings, creds.secret_id)),
        renewed_at=now,
    )
    write_login(settings, cached)
    return cached


def _granted_namespaces(settings: Settings, secret: str) -> list[str]:
    """Namespaces the Nomad token is scoped to; ``*`` for tokens valid everywhere."""
    try:
        record = token_self(_nomad_as(settings, secret))
    except Unreachable as exc:
        note(f"warning: could not ask Nomad which namespaces you may use: {exc.message}")
        return []
    if record.get("Type") == "management":
        return ["*"]
    spaces = namespaces_of(record.get("Policies") or [])
    return spaces or ["*"]


def refresh(settings: Settings, cached: CachedLogin) -> CachedLogin:
    """Renew the Vault token and the Nomad lease; on failure keep the current ones."""
    vault = connect(settings, cached.vault_token)
    now = time.time()
    try:
        vault_ttl = tokens.renew_self(vault)
        nomad_ttl = leases.renew(vault, cached.nomad_lease_id) if cached.nomad_lease_id else None
    except (Unreachable, PermissionDenied, AuthError) as exc:
        note(f"warning: could not renew your login ({exc.message}); it ends as cached")
        return cached
    renewed = replace(
        cached,
        vault_expires_at=now + vault_ttl,
        nomad_expires_at=now + nomad_ttl if nomad_ttl is not None else cached.nomad_expires_at,
        renewed_at=now,
    )
    write_login(settings, renewed)
    return renewed


def logout(settings: Settings, forget_only: bool = False) -> str | None:
    """Revoke the cached tokens and forget them; returns who was logged out."""
    cached = read_login(settings)
    if cached is None:
        return None
    if not forget_only and not cached.vault_expired():
        # PermissionDenied: Vault no longer knows the token (already revoked or expired).
        with contextlib.suppress(PermissionDenied):
            tokens.revoke_self(connect(settings, cached.vault_token))
    forget_login(settings)
    return cached.username


def whoami(settings: Settings) -> dict[str, Any]:
    """Identity, role, policies, expiry and the namespaces/services this login may use."""
    cached = read_login(settings)
    if cached is None:
        raise AuthError("not logged in", hint="run mlctl login")
    if cached.vault_expired() or cached.nomad_expired():
        raise AuthError(
            f"the login of {cached.username} expired", hint="token expired — run mlctl login"
        )
    try:
        info = tokens.lookup_self(connect(settings, cached.vault_token))
    except PermissionDenied:
        raise AuthError(
            f"Vault no longer accepts the token of {cached.username} (revoked?)",
            hint="run mlctl login",
        ) from None
    result: dict[str, Any] = {
        "user": cached.username,
        "role": cached.role,
        "vault_policies": list(info.policies),
        "vault_token_expires": _iso(cached.vault_expires_at),
        "nomad_token_expires": _iso(cached.nomad_expires_at),
    }
    if cached.nomad_token:
        result.update(_nomad_view(settings, cached.nomad_token))
    return result


def _nomad_view(settings: Settings, secret: str) -> dict[str, Any]:
    client = _nomad_as(settings, secret)
    record = token_self(client)
    everywhere = record.get("Type") == "management" or not namespaces_of(
        record.get("Policies") or []
    )
    spaces = namespaces(client) if everywhere else namespaces_of(record.get("Policies") or [])
    services = []
    for namespace in spaces:
        try:
            services += [f"{namespace}/{job}" for job in job_names(client, namespace)]
        except PermissionDenied:
            continue
    return {
        "nomad_token_type": record.get("Type"),
        "nomad_policies": list(record.get("Policies") or []),
        "namespaces": spaces,
        "services": services,
    }


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
