"""``mlctl access grant/revoke/list``: which callers may use which models, kept in Vault.

A caller's grants are the static claims template of its identity token role (see
:mod:`mlctl.access.callers`); granting or revoking rewrites that template, which Vault
applies to every token it issues from then on. Nothing is stored anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlctl.access.bootstrap import current_mode, ensure_vault_policy, write_grants
from mlctl.access.callers import (
    MODELS_KEY,
    CallerKind,
    Grants,
    caller_role,
    check_app_name,
    check_model,
    parse_caller_role,
    role_scopes,
)
from mlctl.access.changes import Change
from mlctl.access.policy_files import user_vault_policy
from mlctl.access.roles import Role, check_namespace, check_username, user_policy
from mlctl.errors import ConfigError, InvalidInput, NotFound
from mlctl.vault import identity, userpass
from mlctl.vault.client import Vault


def require_models_key(vault: Vault) -> None:
    if identity.read_key(vault, MODELS_KEY) is None:
        raise ConfigError(
            f"Vault at {vault.address} is not set up for model access yet "
            f"(no identity key {MODELS_KEY})",
            hint="run mlctl vault bootstrap again: it adds what is missing",
        )


def read_grants(vault: Vault, kind: CallerKind, name: str) -> Grants | None:
    role = identity.read_role(vault, caller_role(kind, name))
    return Grants.from_claims(kind, name, role.claims) if role is not None else None


def user_caller(
    vault: Vault, name: str, role: Role | None, namespaces: list[str], *, policy: bool = True
) -> list[Change]:
    """A person's model-call role, from their mlctl role (at ``user add``, or on first
    grant for users added before model access existed), and (``policy``) the user's
    policy that lets them read it."""
    mode = current_mode(vault)
    if mode is None:
        raise ConfigError(
            f"Vault at {vault.address} is not set up for mlctl yet",
            hint="run mlctl vault bootstrap first",
        )
    spaces, metrics = role_scopes(role, namespaces)
    grants = Grants(CallerKind.USER, name, (), tuple(spaces), tuple(metrics))
    existing = read_grants(vault, CallerKind.USER, name)
    changes = [] if existing is not None else [write_grants(vault, grants)]
    if policy:
        text = user_vault_policy(name, mode)
        changes.append(ensure_vault_policy(vault, user_policy(name), text))
    return changes


def _caller_grants(vault: Vault, kind: CallerKind, name: str) -> tuple[Grants, list[Change]]:
    """The caller's grants, creating a person's role from their user record if needed."""
    if kind is CallerKind.SERVICE:
        raise InvalidInput(
            f"{kind.value}:{name} is one of mlctl's own services: its grants are fixed",
            hint="mlctl vault bootstrap writes them (the monitor reads /metrics, calls nothing)",
        )
    if kind is CallerKind.APP:
        check_app_name(name)
        grants = read_grants(vault, kind, name)
        if grants is None:
            raise NotFound(
                f"application {name} does not exist",
                hint=f"create it with: mlctl access app add {name} --model MODEL",
            )
        return grants, []
    check_username(name)
    if userpass.read_user(vault, name) is None:
        raise NotFound(f"user {name} does not exist", hint="list users with: mlctl user list")
    grants = read_grants(vault, kind, name)
    if grants is not None:
        return grants, []
    from mlctl.access.users import show_user  # users imports this module

    user = show_user(vault, name)
    role = next((r for r in Role if r.value == user.role), None)
    changes = user_caller(vault, name, role, [n for n in user.namespaces if n != "*"])
    found = read_grants(vault, kind, name)
    assert found is not None
    return found, changes


@dataclass(frozen=True)
class GrantResult:
    grants: Grants
    changes: list[Change]
    #: Revoking: why the caller may still call the model (its role, a namespace grant).
    still_allowed: str | None = None


def grant(vault: Vault, kind: CallerKind, name: str, namespace: str, model: str) -> GrantResult:
    """Let a caller use ``namespace/model`` (``*``: every model of the namespace)."""
    check_namespace(namespace)
    check_model(model)
    require_models_key(vault)
    current, changes = _caller_grants(vault, kind, name)
    updated = current.granting(namespace, model)
    changes.append(write_grants(vault, updated))
    return GrantResult(updated, changes)


def revoke(vault: Vault, kind: CallerKind, name: str, namespace: str, model: str) -> GrantResult:
    """Stop issuing tokens that let a caller use ``namespace/model``."""
    check_namespace(namespace)
    check_model(model)
    require_models_key(vault)
    current, changes = _caller_grants(vault, kind, name)
    updated = current.revoking(namespace, model)
    changes.append(write_grants(vault, updated))
    return GrantResult(updated, changes, updated.why_allowed(namespace, model))


def list_callers(vault: Vault) -> list[Grants]:
    """Every caller of models, people first, by name."""
    found = []
    for role in identity.list_roles(vault):
        parsed = parse_caller_role(role)
        if parsed is not None and (grants := read_grants(vault, *parsed)) is not None:
            found.append(grants)
    return sorted(found, key=lambda g: (g.kind != CallerKind.USER, g.name))


def callers_of(vault: Vault, namespace: str, model: str) -> list[tuple[Grants, str]]:
    """Who may call ``namespace/model``, and why."""
    check_namespace(namespace)
    check_model(model)
    allowed = []
    for grants in list_callers(vault):
        why = grants.why_allowed(namespace, model)
        if why is not None:
            allowed.append((grants, why))
    return allowed
