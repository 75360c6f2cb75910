"""The policy texts shipped in vault-policies/, rendered for a user or namespace.

Templates (``*.j2``) get only names already checked by :mod:`mlctl.access.roles`, so
nothing a user types can change a policy's structure.
"""

from __future__ import annotations

from functools import cache

import jinja2

from mlctl.access.callers import monitor_grants
from mlctl.access.roles import (
    NOMAD_POLICY_FILES,
    NomadAuth,
    Role,
    check_namespace,
    check_username,
)
from mlctl.paths import data_dir


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(  # noqa: S701 - renders HCL, not HTML
        loader=jinja2.FileSystemLoader(str(data_dir("vault-policies"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _read(file: str) -> str:
    return (data_dir("vault-policies") / file).read_text(encoding="utf-8")


def vault_role_policies(nomad_auth: NomadAuth = NomadAuth.SECRETS_ENGINE) -> dict[str, str]:
    """Vault policy name -> text, for every role and the monitor (whose Nomad login
    path depends on the mode)."""
    texts = {f"mlctl-{role.value}": _read(f"mlctl-{role.value}.hcl") for role in Role}
    monitor = _environment().get_template("mlctl-monitor.hcl.j2")
    metrics_role = monitor_grants().role
    texts["mlctl-monitor"] = monitor.render(nomad_auth=nomad_auth.value, metrics_role=metrics_role)
    return texts


def user_vault_policy(username: str, nomad_auth: NomadAuth = NomadAuth.SECRETS_ENGINE) -> str:
    """The per-user policy: read access to the user's own Nomad login path only."""
    template = _environment().get_template("mlctl-user.hcl.j2")
    return template.render(username=check_username(username), nomad_auth=nomad_auth.value)


def app_vault_policy(name: str) -> str:
    """An application's policy: read its own model token, manage its own Vault token."""
    from mlctl.access.callers import check_app_name

    template = _environment().get_template("mlctl-app.hcl.j2")
    return template.render(name=check_app_name(name))


def nomad_role_policies() -> dict[str, str]:
    """Nomad ACL policy name -> rules, for the shared (non-namespace) policies."""
    return {name: _read(file) for name, file in NOMAD_POLICY_FILES.items()}


def data_scientist_nomad_policy(namespace: str) -> str:
    return (
        _environment()
        .get_template("nomad-data-scientist.hcl.j2")
        .render(namespace=check_namespace(namespace))
    )


def description_of(text: str) -> str:
    """The first comment line of a policy, used as its Nomad description."""
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()[:200]
    return ""
