"""A person's session: log in, keep the tokens fresh, log out, and say who you are.

``login`` trades a username and password for a Vault token, then gets a Nomad token
the way the server was set up (``sys/capabilities-self`` tells which path the user's
policy opens):

- secrets engine: read ``nomad/creds/mlctl-user-<name>``; Vault mints a Nomad ACL
  token under a lease owned by the Vault token;
- JWT: read ``identity/oidc/token/mlctl-user-<name>`` (a JWT Vault signs, whose claims
  carry the user's role and namespaces) and exchange it at Nomad's ``/v1/acl/login``.

Both are cached, 0600, with their expiry times. ``logout`` revokes the Vault token
(which revokes a lease's Nomad token with it) and deletes a JWT login's Nomad token.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from typing import Any

from mlctl import redact
from mlctl.access.roles import (
    AUTH_METHOD,
    NomadAuth,
    check_username,
    namespaces_of,
    nomad_role,
    role_from_policies,
)
from mlctl.credentials import (
    CachedLogin,
    forget_login,
    forget_model_token,
    read_login,
    write_login,
)
from mlctl.errors import AuthError, MlctlError, NotFound, PermissionDenied, Unreachable
from mlctl.nomad import acl_auth
from mlctl.nomad.acl import job_names, namespaces, token_self
from mlctl.nomad.client import NomadClient
from mlctl.nomad.client import connect as nomad_connect
from mlctl.output import note
from mlctl.settings import Settings
from mlctl.vault import identity, leases, nomad_engine, tokens, userpass
from mlctl.vault.capabilities import capabilities_self
from mlctl.vault.client import Vault, connect


def _nomad_as(settings: Settings, secret: str | None) -> NomadClient:
    return nomad_connect(settings, token=secret)


def login_path(vault: Vault, name: str, token_role: str | None = None) -> NomadAuth:
    """Which Nomad login path the caller's policy opens (identity token or Nomad creds).

    ``token_role`` defaults to the user's own role, ``mlctl-user-<name>``.
    """
    role = token_role or nomad_role(name)
    paths = {
        NomadAuth.JWT: f"identity/oidc/token/{role}",
        NomadAuth.SECRETS_ENGINE: f"nomad/creds/{role}",
    }
    granted = capabilities_self(vault, list(paths.values()))
    for mode, path in paths.items():
        if "read" in granted[path] or "root" in granted[path]:
            return mode
    raise PermissionDenied(
        f"user {name} has no way to get a Nomad token",
        hint=f"ask an mlctl admin to add the user again (mlctl user add {name})",
    )


def _nomad_token(settings: Settings, vault: Vault, name: str) -> dict[str, Any]:
    """The Nomad token fields of the cache, from whichever path the user has."""
    mode = login_path(vault, name)
    now = time.time()
    if mode is NomadAuth.JWT:
        issued = identity.issue_token(vault, nomad_role(name))
        got = acl_auth.login(_nomad_as(settings, None), AUTH_METHOD, issued.token)
        return {
            "nomad_token": got.secret_id,
            "nomad_accessor": got.accessor_id,
            "nomad_expires_at": now + got.ttl_seconds if got.ttl_seconds else None,
            "nomad_lease_id": None,
            "nomad_auth": mode.value,
        }
    creds = nomad_engine.mint(vault, nomad_role(name))
    return {
        "nomad_token": creds.secret_id,
        "nomad_accessor": creds.accessor_id,
        "nomad_expires_at": now + creds.lease_duration,
        "nomad_lease_id": creds.lease_id,
        "nomad_auth": mode.value,
    }


def login(settings: Settings, name: str, password: str) -> CachedLogin:
    """Log in and cache the tokens; returns what was cached."""
    check_username(name)
    redact.register(password)
    auth = userpass.login(connect(settings), name, password)
    vault_token = str(auth["client_token"])
    now = time.time()
    as_user = connect(settings, vault_token)
    try:
        nomad = _nomad_token(settings, as_user, name)
    except MlctlError:
        tokens.revoke_self(as_user)  # leave no half-login behind
        raise
    role = role_from_policies(auth.get("policies") or [])
    cached = CachedLogin(
        username=name,
        vault_token=vault_token,
        vault_expires_at=now + int(auth.get("lease_duration") or 0),
        role=role.value if role else None,
        namespaces=tuple(_granted_namespaces(settings, nomad["nomad_token"])),
        renewed_at=now,
        **nomad,
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
    """Renew the Vault token and the Nomad token; on failure keep the current ones.

    A lease is renewed in place; a JWT login's Nomad token cannot be, so a fresh
    identity token is exchanged for a new one and the old one is deleted.
    """
    vault = connect(settings, cached.vault_token)
    now = time.time()
    try:
        vault_ttl = tokens.renew_self(vault)
        if cached.nomad_auth == NomadAuth.JWT.value:
            fresh = _nomad_token(settings, vault, cached.username)
        else:
            nomad_ttl = (
                leases.renew(vault, cached.nomad_lease_id) if cached.nomad_lease_id else None
            )
            expires = now + nomad_ttl if nomad_ttl is not None else cached.nomad_expires_at
            fresh = {"nomad_expires_at": expires}
    except (Unreachable, PermissionDenied, AuthError) as exc:
        note(f"warning: could not renew your login ({exc.message}); it ends as cached")
        return cached
    renewed = replace(cached, vault_expires_at=now + vault_ttl, renewed_at=now, **fresh)
    write_login(settings, renewed)
    if cached.nomad_auth == NomadAuth.JWT.value and cached.nomad_token:
        _drop_nomad_token(settings, cached)
    return renewed


def _drop_nomad_token(settings: Settings, cached: CachedLogin) -> bool:
    """Delete a JWT login's own Nomad token; False when Nomad would not (it then expires)."""
    if not cached.nomad_token or not cached.nomad_accessor:
        return False
    try:
        return acl_auth.delete_token(_nomad_as(settings, cached.nomad_token), cached.nomad_accessor)
    except (PermissionDenied, AuthError, NotFound, Unreachable):
        return False


def logout(settings: Settings, forget_only: bool = False) -> str | None:
    """Revoke the cached tokens and forget them; returns who was logged out."""
    cached = read_login(settings)
    if cached is None:
        return None
    jwt_login = cached.nomad_auth == NomadAuth.JWT.value and not cached.nomad_expired()
    if not forget_only and jwt_login and not _drop_nomad_token(settings, cached):
        note(f"note: Nomad kept your token; it expires at {_iso(cached.nomad_expires_at)}")
    if not forget_only and not cached.vault_expired():
        # PermissionDenied: Vault no longer knows the token (already revoked or expired).
        with contextlib.suppress(PermissionDenied):
            tokens.revoke_self(connect(settings, cached.vault_token))
    forget_login(settings)
    forget_model_token(settings)  # the model-call token was this login's too
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
        "nomad_auth": cached.nomad_auth,
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
        "nomad_roles": [str(r.get("Name")) for r in record.get("Roles") or []],
        "namespaces": spaces,
        "services": services,
    }


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
