"""``mlctl user ...``: people in Vault's userpass, each with its own Nomad login path.

Adding a user writes, in this order, the Nomad namespaces and policies it needs (and,
in JWT mode, the binding rules granting them), its per-user Vault policy, its Nomad
role (a secrets-engine role, or an identity token role whose claims name its role and
namespaces), and the userpass user last: a user exists (and can log in) only once
everything it needs is in place. Removing one goes the other way: delete the user (no
new logins), revoke every Vault token it holds, delete its role and policy, then its
live Nomad tokens (leases revoke them in secrets-engine mode; in JWT mode mlctl deletes
the tokens the user's logins created, which needs a Nomad management token).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mlctl.access.bootstrap import (
    SetupFailed,
    current_mode,
    ensure_identity_role,
    ensure_namespace_grant,
    ensure_nomad_role,
    ensure_vault_policy,
)
from mlctl.access.callers import MODELS_KEY, CallerKind, caller_role
from mlctl.access.changes import Change
from mlctl.access.policy_files import user_vault_policy
from mlctl.access.roles import (
    USER_TOKEN_MAX_TTL,
    USER_TOKEN_TTL,
    NomadAuth,
    Role,
    check_grant,
    check_username,
    identity_claims,
    login_token_name,
    namespaces_of,
    nomad_grant,
    nomad_role,
    role_from_claims,
    role_from_policies,
    user_policy,
    vault_policies,
)
from mlctl.errors import ConfigError, Conflict, InvalidInput, MlctlError, NotFound
from mlctl.nomad import acl_auth
from mlctl.nomad.client import NomadClient
from mlctl.vault import auth_methods, identity, leases, nomad_engine, policies, userpass
from mlctl.vault.client import Vault

MIN_PASSWORD = 8


@dataclass(frozen=True)
class UserView:
    """A user as ``user show`` presents it."""

    name: str
    role: str | None
    namespaces: list[str]
    vault_policies: list[str]
    nomad_token_type: str | None
    nomad_policies: list[str] = field(default_factory=list)
    nomad_auth: str | None = None


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password: too short (at least {MIN_PASSWORD} characters)")
    return password


def _require_bootstrap(vault: Vault) -> NomadAuth:
    """Users need userpass and a Nomad login path; say so before writing anything."""
    mode = current_mode(vault)
    if auth_methods.enabled_auth_methods(vault).get("userpass") != "userpass" or mode is None:
        raise ConfigError(
            f"Vault at {vault.address} is not set up for mlctl yet",
            hint="run mlctl vault bootstrap first",
        )
    return mode


def add_user(
    vault: Vault,
    nomad: Callable[[], NomadClient],
    name: str,
    role: Role,
    namespaces: Iterable[str],
    password: str,
) -> list[Change]:
    """Create a user with everything its role needs; refuses an existing name."""
    check_username(name)
    granted = check_grant(role, namespaces)
    check_password(password)
    mode = _require_bootstrap(vault)
    if userpass.read_user(vault, name) is not None:
        raise Conflict(
            f"user {name} already exists",
            hint=f"change it with mlctl user passwd {name}, or mlctl user remove {name} first",
        )
    changes: list[Change] = []
    try:
        if granted:
            client = nomad()
            for namespace in granted:
                changes += ensure_namespace_grant(client, namespace, mode)
        changes.append(ensure_vault_policy(vault, user_policy(name), user_vault_policy(name, mode)))
        if mode is NomadAuth.JWT:
            claims = identity_claims(role, name, granted)
            changes.append(ensure_identity_role(vault, nomad_role(name), claims))
        else:
            token_type, nomad_policies = nomad_grant(role, granted)
            changes.append(ensure_nomad_role(vault, nomad_role(name), token_type, nomad_policies))
        changes += _model_caller(vault, name, role, granted)
        userpass.write_user(
            vault,
            name,
            policies=vault_policies(role, name),
            password=password,
            token_ttl=USER_TOKEN_TTL,
            token_max_ttl=USER_TOKEN_MAX_TTL,
        )
    except MlctlError as exc:
        raise SetupFailed(exc, changes) from exc
    changes.append(Change("vault", "user", f"auth/userpass/users/{name}", "created"))
    return changes


def _model_caller(vault: Vault, name: str, role: Role, granted: Iterable[str]) -> list[Change]:
    """The user's model-call token role (issue 15), when Vault has the models key."""
    from mlctl.access.grants import user_caller

    if identity.read_key(vault, MODELS_KEY) is None:
        return []  # bootstrapped before model access: `mlctl access grant` adds it later
    # The user's policy, written just before, already lets them read it.
    return user_caller(vault, name, role, list(granted), policy=False)


def show_user(vault: Vault, name: str) -> UserView:
    check_username(name)
    record = userpass.read_user(vault, name)
    if record is None:
        raise NotFound(f"user {name} does not exist", hint="list users with: mlctl user list")
    role = role_from_policies(record.policies)
    token_role = identity.read_role(vault, nomad_role(name))
    if token_role is not None:
        granted = list(token_role.claims.get("namespaces") or [])
        claimed = role_from_claims(token_role.claims) or role
        token_type, nomad_policies = nomad_grant(claimed, granted) if claimed else ("", [])
        return UserView(
            name=name,
            role=role.value if role else None,
            namespaces=granted if claimed is Role.DATA_SCIENTIST else ["*"],
            vault_policies=list(record.policies),
            nomad_token_type=token_type or None,
            nomad_policies=nomad_policies,
            nomad_auth=NomadAuth.JWT.value,
        )
    grant = _engine_role(vault, name)
    nomad_policies = list(grant.policies) if grant else []
    if role is Role.DATA_SCIENTIST:
        spaces = namespaces_of(nomad_policies)
    else:
        spaces = ["*"] if grant else []
    return UserView(
        name=name,
        role=role.value if role else None,
        namespaces=spaces,
        vault_policies=list(record.policies),
        nomad_token_type=grant.type if grant else None,
        nomad_policies=nomad_policies,
        nomad_auth=NomadAuth.SECRETS_ENGINE.value if grant else None,
    )


def _engine_role(vault: Vault, name: str) -> nomad_engine.NomadRole | None:
    """The user's secrets-engine role; None also when the engine is not mounted (OpenBao)."""
    try:
        return nomad_engine.read_role(vault, nomad_role(name))
    except NotFound:
        return None


def list_users(vault: Vault) -> list[UserView]:
    return [show_user(vault, name) for name in userpass.list_users(vault)]


def change_password(vault: Vault, name: str, password: str) -> None:
    check_username(name)
    check_password(password)
    if userpass.read_user(vault, name) is None:
        raise NotFound(f"user {name} does not exist", hint="list users with: mlctl user list")
    userpass.set_password(vault, name, password)


def remove_user(vault: Vault, nomad: Callable[[], NomadClient], name: str) -> list[Change]:
    """Delete a user and revoke every Vault token and Nomad token it holds."""
    check_username(name)
    if userpass.read_user(vault, name) is None:
        raise NotFound(f"user {name} does not exist", hint="list users with: mlctl user list")
    changes: list[Change] = []
    try:
        userpass.delete_user(vault, name)
        changes.append(Change("vault", "user", f"auth/userpass/users/{name}", "deleted"))
        changes += _revoke_vault_side(vault, name)
        changes += _delete_login_tokens(vault, nomad, name)
        policies.delete_policy(vault, user_policy(name))
        changes.append(Change("vault", "policy", user_policy(name), "deleted"))
    except MlctlError as exc:
        raise SetupFailed(exc, changes) from exc
    return changes


def _revoke_vault_side(vault: Vault, name: str) -> list[Change]:
    """Logins (and, with them, secrets-engine leases); then the user's Nomad role."""
    changes = []
    prefixes = [f"auth/userpass/login/{name}"]
    engine_role = _engine_role(vault, name)
    if engine_role is not None:
        # The creds prefix catches any lease left by a token created another way.
        prefixes.append(f"nomad/creds/{nomad_role(name)}")
    for prefix in prefixes:
        leases.revoke_prefix(vault, prefix)
        changes.append(Change("vault", "leases", prefix, "revoked"))
    if engine_role is not None:
        nomad_engine.delete_role(vault, nomad_role(name))
        changes.append(Change("vault", "nomad role", f"nomad/role/{nomad_role(name)}", "deleted"))
    for token_role in (nomad_role(name), caller_role(CallerKind.USER, name)):
        if identity.read_role(vault, token_role) is not None:
            identity.delete_role(vault, token_role)
            path = f"identity/oidc/role/{token_role}"
            changes.append(Change("vault", "identity role", path, "deleted"))
    return changes


def _delete_login_tokens(vault: Vault, nomad: Callable[[], NomadClient], name: str) -> list[Change]:
    """JWT logins leave Nomad tokens no lease covers: delete the user's by name."""
    if current_mode(vault) is not NomadAuth.JWT:
        return []
    client = nomad()
    token_name = login_token_name(name)
    deleted = [
        a for a in acl_auth.tokens_named(client, token_name) if acl_auth.delete_token(client, a)
    ]
    return [Change("nomad", "acl tokens", f"{token_name} ({len(deleted)})", "deleted")]
