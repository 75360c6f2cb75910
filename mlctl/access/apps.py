"""``mlctl access app``: applications that call models, as AppRoles with model grants.

An application NAME is three things in Vault, all written by ``app add``:

- the Vault policy ``mlctl-app-NAME``: read its own model token, manage its own token;
- the identity token role ``mlctl-call-app-NAME``: its grants (see ``callers``);
- the AppRole ``mlctl-app-NAME`` whose tokens carry that policy. AppRole logins have
  identity entities, so Vault can sign identity tokens for them.

The secret-id is created *response-wrapped*: Vault hands mlctl a single-use wrapping
token instead, which mlctl prints once and never stores; only the application unwraps
it (``sys/wrapping/unwrap``), so the secret-id itself is seen by nobody else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mlctl.access.bootstrap import SetupFailed, ensure_vault_policy, write_grants
from mlctl.access.callers import (
    APP_TOKEN_MAX_TTL,
    APP_TOKEN_TTL,
    CallerKind,
    Grants,
    app_role,
    caller_role,
    check_app_name,
    check_model,
)
from mlctl.access.changes import Change
from mlctl.access.grants import read_grants, require_models_key
from mlctl.access.policy_files import app_vault_policy
from mlctl.access.roles import check_namespace
from mlctl.errors import ConfigError, Conflict, MlctlError, NotFound
from mlctl.vault import approle, auth_methods, identity, policies
from mlctl.vault.client import Vault


@dataclass(frozen=True)
class AppCredentials:
    """What ``app add`` prints once: the role-id and the wrapped secret-id."""

    app: str
    role_id: str
    wrapped_secret_id: str
    wrap_ttl: int
    token_role: str

    def to_dict(self) -> dict[str, object]:
        return {
            "app": self.app,
            "role_id": self.role_id,
            "wrapped_secret_id": self.wrapped_secret_id,
            "wrap_ttl_seconds": self.wrap_ttl,
            "token_role": self.token_role,
        }


def _require_approle(vault: Vault) -> None:
    if auth_methods.enabled_auth_methods(vault).get("approle") != "approle":
        raise ConfigError(
            f"Vault at {vault.address} has no AppRole auth method at approle/",
            hint="run mlctl vault bootstrap first",
        )


def add_app(
    vault: Vault,
    name: str,
    namespace: str,
    models: Iterable[str],
    *,
    metrics: bool = False,
    wrap_ttl: str,
) -> tuple[AppCredentials, list[Change]]:
    """Create application NAME allowed to call ``models`` of ``namespace``."""
    check_app_name(name)
    check_namespace(namespace)
    wanted = [check_model(m) for m in models]
    require_models_key(vault)
    _require_approle(vault)
    if approle.read_role(vault, app_role(name)) is not None:
        raise Conflict(
            f"application {name} already exists",
            hint=f"grant it more with mlctl access grant MODEL --app {name}; "
            f"a new secret-id with mlctl access app secret {name}",
        )
    grants = Grants(CallerKind.APP, name, metrics=(namespace,) if metrics else ())
    for model in wanted:
        grants = grants.granting(namespace, model)
    changes: list[Change] = []
    try:
        # The AppRole last: the application can log in only once its grants exist.
        changes.append(ensure_vault_policy(vault, app_role(name), app_vault_policy(name)))
        changes.append(write_grants(vault, grants))
        approle.write_role(
            vault,
            app_role(name),
            policies=[app_role(name)],
            token_ttl=APP_TOKEN_TTL,
            token_max_ttl=APP_TOKEN_MAX_TTL,
        )
        changes.append(Change("vault", "approle", f"auth/approle/role/{app_role(name)}", "created"))
        credentials = new_secret(vault, name, wrap_ttl)
    except MlctlError as exc:
        raise SetupFailed(exc, changes) from exc
    return credentials, changes


def new_secret(vault: Vault, name: str, wrap_ttl: str) -> AppCredentials:
    """The role-id and a fresh response-wrapped secret-id (older secret-ids keep working)."""
    check_app_name(name)
    if approle.read_role(vault, app_role(name)) is None:
        raise NotFound(
            f"application {name} does not exist",
            hint=f"create it with: mlctl access app add {name} --model MODEL",
        )
    wrapped = approle.wrapped_secret_id(vault, app_role(name), wrap_ttl)
    return AppCredentials(
        app=name,
        role_id=approle.role_id(vault, app_role(name)),
        wrapped_secret_id=wrapped.token,
        wrap_ttl=wrapped.ttl,
        token_role=caller_role(CallerKind.APP, name),
    )


def remove_app(vault: Vault, name: str) -> list[Change]:
    """Delete the AppRole (no new logins), its token role (no new model tokens) and its
    policy (its live Vault tokens can do nothing more)."""
    check_app_name(name)
    if approle.read_role(vault, app_role(name)) is None:
        raise NotFound(
            f"application {name} does not exist", hint="list them with: mlctl access app list"
        )
    changes: list[Change] = []
    try:
        approle.delete_role(vault, app_role(name))
        changes.append(Change("vault", "approle", f"auth/approle/role/{app_role(name)}", "deleted"))
        role = caller_role(CallerKind.APP, name)
        if identity.read_role(vault, role) is not None:
            identity.delete_role(vault, role)
            path = f"identity/oidc/role/{role}"
            changes.append(Change("vault", "identity role", path, "deleted"))
        policies.delete_policy(vault, app_role(name))
        changes.append(Change("vault", "policy", app_role(name), "deleted"))
    except MlctlError as exc:
        raise SetupFailed(exc, changes) from exc
    return changes


def list_apps(vault: Vault) -> list[Grants]:
    """Every application (an AppRole ``mlctl-app-*``) with its grants."""
    prefix = app_role("")
    found = []
    for role in approle.list_roles(vault):
        if role.startswith(prefix) and len(role) > len(prefix):
            name = role[len(prefix) :]
            found.append(read_grants(vault, CallerKind.APP, name) or Grants(CallerKind.APP, name))
    return found
