"""``mlctl user ...``: people in Vault's userpass, each with its own Nomad role.

Adding a user writes, in this order, the Nomad namespaces and policies it needs, its
per-user Vault policy, its Nomad secrets-engine role, and the userpass user last: a
user exists (and can log in) only once everything it needs is in place. Removing one
goes the other way: delete the user first (no new logins), then revoke every token
and Nomad credential it holds, then its role and policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mlctl.access.bootstrap import ensure_namespace_grant, ensure_nomad_role, ensure_vault_policy
from mlctl.access.changes import Change
from mlctl.access.policy_files import user_vault_policy
from mlctl.access.roles import (
    USER_TOKEN_MAX_TTL,
    USER_TOKEN_TTL,
    Role,
    check_grant,
    check_username,
    namespaces_of,
    nomad_grant,
    nomad_role,
    role_from_policies,
    user_policy,
    vault_policies,
)
from mlctl.errors import ConfigError, Conflict, InvalidInput, NotFound
from mlctl.nomad.client import NomadClient
from mlctl.vault import auth_methods, leases, mounts, nomad_engine, policies, userpass
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


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password: too short (at least {MIN_PASSWORD} characters)")
    return password


def _require_bootstrap(vault: Vault) -> None:
    """Users need userpass and the nomad/ engine; say so before writing anything."""
    if (
        auth_methods.enabled_auth_methods(vault).get("userpass") != "userpass"
        or mounts.mounted_engines(vault).get("nomad") != "nomad"
    ):
        raise ConfigError(
            f"Vault at {vault.address} is not set up for mlctl yet",
            hint="run mlctl vault bootstrap first",
        )


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
    _require_bootstrap(vault)
    if userpass.read_user(vault, name) is not None:
        raise Conflict(
            f"user {name} already exists",
            hint=f"change it with mlctl user passwd {name}, or mlctl user remove {name} first",
        )
    changes: list[Change] = []
    if granted:
        client = nomad()
        for namespace in granted:
            changes += ensure_namespace_grant(client, namespace)
    changes.append(ensure_vault_policy(vault, user_policy(name), user_vault_policy(name)))
    token_type, nomad_policies = nomad_grant(role, granted)
    changes.append(ensure_nomad_role(vault, nomad_role(name), token_type, nomad_policies))
    userpass.write_user(
        vault,
        name,
        policies=vault_policies(role, name),
        password=password,
        token_ttl=USER_TOKEN_TTL,
        token_max_ttl=USER_TOKEN_MAX_TTL,
    )
    changes.append(Change("vault", "user", f"auth/userpass/users/{name}", "created"))
    return changes


def show_user(vault: Vault, name: str) -> UserView:
    check_username(name)
    record = userpass.read_user(vault, name)
    if record is None:
        raise NotFound(f"user {name} does not exist", hint="list users with: mlctl user list")
    role = role_from_policies(record.policies)
    grant = nomad_engine.read_role(vault, nomad_role(name))
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
    )


def list_users(vault: Vault) -> list[UserView]:
    return [show_user(vault, name) for name in userpass.list_users(vault)]


def change_password(vault: Vault, name: str, password: str) -> None:
    check_username(name)
    check_password(password)
    if userpass.read_user(vault, name) is None:
        raise NotFound(f"user {name} does not exist", hint="list users with: mlctl user list")
    userpass.set_password(vault, name, password)


def remove_user(vault: Vault, name: str) -> list[Change]:
    """Delete a user and revoke every Vault token and Nomad token it holds."""
    check_username(name)
    if userpass.read_user(vault, name) is None:
        raise NotFound(f"user {name} does not exist", hint="list users with: mlctl user list")
    userpass.delete_user(vault, name)
    changes = [Change("vault", "user", f"auth/userpass/users/{name}", "deleted")]
    # Revoking the login tokens revokes their child leases, the Nomad tokens among them;
    # the creds prefix catches any lease left by a token created another way.
    for prefix in (f"auth/userpass/login/{name}", f"nomad/creds/{nomad_role(name)}"):
        leases.revoke_prefix(vault, prefix)
        changes.append(Change("vault", "leases", prefix, "revoked"))
    nomad_engine.delete_role(vault, nomad_role(name))
    changes.append(Change("vault", "nomad role", f"nomad/role/{nomad_role(name)}", "deleted"))
    policies.delete_policy(vault, user_policy(name))
    changes.append(Change("vault", "policy", user_policy(name), "deleted"))
    return changes
