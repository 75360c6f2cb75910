"""Who may call which model: callers, their token roles and their claims (pure, no I/O).

Every caller of models — a person (userpass user), an application (AppRole) or one of
mlctl's own services (the monitor) — has one identity token role in Vault,
``identity/oidc/role/mlctl-call-<kind>-<name>``, signed by the key ``mlctl-models`` for
the audience ``mlctl-models``. Its template is static JSON and *is* the grant, so Vault
holds it and nothing else does:

- ``mlctl_models``: ``<namespace>/<model>`` for each model granted by ``mlctl access
  grant``;
- ``mlctl_namespaces``: namespaces whose every model the caller may use — a person's
  role decides them (admins and operators ``*``, data scientists their namespaces,
  viewers none), ``mlctl access grant '*' -n NS`` adds one;
- ``mlctl_metrics``: namespaces whose servers' ``/metrics`` the caller may read
  (admins, operators and viewers ``*``, data scientists their namespaces, an app only
  with ``--metrics``, the monitor ``*``);
- ``mlctl_caller``: ``user:alice``, ``app:billing`` or ``service:mlctl-monitor``, written
  into the access log.

Services are a kind of their own, not applications with reserved names: their grants
are fixed by ``mlctl vault bootstrap`` (the monitor reads every server's ``/metrics`` and
calls no model), so ``access grant``/``revoke`` refuse them and ``access app`` never
lists or removes them, while the access log and ``access list`` name them for what they
are.

Rewriting the template changes every token issued afterwards at once; tokens already
issued keep what they say until they expire (``MODEL_TOKEN_TTL``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from mlctl.access.roles import MONITOR, Role, check_namespace
from mlctl.bundle.schema import (
    CALLER_CLAIM,
    METRICS_CLAIM,
    MODELS_CLAIM,
    NAME_PATTERN,
    NAMESPACES_CLAIM,
)
from mlctl.errors import InvalidInput

#: The signing key of model tokens: its own, so it exists in both Nomad login modes
#: (the ``mlctl`` key's presence is how bootstrap recognises JWT mode).
MODELS_KEY = "mlctl-models"
#: How long a model token lives; a revoked grant stays in issued tokens this long.
MODEL_TOKEN_TTL = "15m"  # noqa: S105 - a lifetime, not a secret
MODEL_TOKEN_TTL_SECONDS = 15 * 60
#: The Vault tokens of applications: they log in again with their secret-id.
APP_TOKEN_TTL = "1h"  # noqa: S105 - a lifetime, not a secret
APP_TOKEN_MAX_TTL = "24h"  # noqa: S105 - a lifetime, not a secret
#: How long the wrapping token printed by ``access app add`` can be unwrapped.
WRAP_TTL = "1h"
#: ``MODEL`` argument meaning "every model of the namespace".
EVERY_MODEL = "*"

_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class CallerKind(StrEnum):
    USER = "user"
    APP = "app"
    SERVICE = "service"


def check_app_name(name: str) -> str:
    if not _APP_NAME.match(name):
        raise InvalidInput(
            f"application name {name!r} is not valid",
            hint="use 1-63 lowercase letters, digits, '-' or '_', starting with a letter/digit",
        )
    return name


def check_model(name: str) -> str:
    """A model name (a DNS label, as in mlctl.yaml) or ``*`` for every model."""
    if name != EVERY_MODEL and not re.fullmatch(NAME_PATTERN, name):
        raise InvalidInput(
            f"model name {name!r} is not valid",
            hint="a model name is a DNS label (as in mlctl.yaml), or '*' for every model",
        )
    return name


def caller_role(kind: CallerKind, name: str) -> str:
    """The identity token role of a caller: ``mlctl-call-user-alice``."""
    return f"mlctl-call-{kind.value}-{name}"


def parse_caller_role(role: str) -> tuple[CallerKind, str] | None:
    """(kind, name) of a caller role name; None for any other role."""
    for kind in CallerKind:
        prefix = f"mlctl-call-{kind.value}-"
        if role.startswith(prefix) and len(role) > len(prefix):
            return kind, role[len(prefix) :]
    return None


def app_role(name: str) -> str:
    """The AppRole of an application, and its Vault policy: ``mlctl-app-billing``."""
    return f"mlctl-app-{name}"


def model_ref(namespace: str, model: str) -> str:
    return f"{check_namespace(namespace)}/{check_model(model)}"


def role_scopes(role: Role | None, namespaces: Iterable[str]) -> tuple[list[str], list[str]]:
    """(namespaces whose every model, namespaces whose metrics) a person's role grants."""
    spaces = sorted(set(namespaces))
    if role in (Role.ADMIN, Role.OPERATOR):
        return ["*"], ["*"]
    if role is Role.DATA_SCIENTIST:
        return spaces, spaces
    if role is Role.VIEWER:
        return [], ["*"]
    return [], []


@dataclass(frozen=True)
class Grants:
    """What one caller may use: the claims of its token role."""

    kind: CallerKind
    name: str
    models: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    metrics: tuple[str, ...] = field(default=())

    @property
    def caller(self) -> str:
        return f"{self.kind.value}:{self.name}"

    @property
    def role(self) -> str:
        return caller_role(self.kind, self.name)

    def claims(self) -> dict[str, Any]:
        return {
            CALLER_CLAIM: self.caller,
            MODELS_CLAIM: sorted(set(self.models)),
            NAMESPACES_CLAIM: sorted(set(self.namespaces)),
            METRICS_CLAIM: sorted(set(self.metrics)),
        }

    @classmethod
    def from_claims(cls, kind: CallerKind, name: str, claims: dict[str, Any]) -> Grants:
        def strings(key: str) -> tuple[str, ...]:
            value = claims.get(key)
            if not isinstance(value, list):
                return ()
            return tuple(sorted(v for v in value if isinstance(v, str)))

        models, spaces = strings(MODELS_CLAIM), strings(NAMESPACES_CLAIM)
        return cls(kind, name, models, spaces, strings(METRICS_CLAIM))

    def granting(self, namespace: str, model: str) -> Grants:
        """These grants plus ``namespace/model`` (``*``: every model of the namespace)."""
        if model == EVERY_MODEL:
            return replace(self, namespaces=tuple(sorted({*self.namespaces, namespace})))
        return replace(self, models=tuple(sorted({*self.models, model_ref(namespace, model)})))

    def revoking(self, namespace: str, model: str) -> Grants:
        if model == EVERY_MODEL:
            return replace(self, namespaces=tuple(n for n in self.namespaces if n != namespace))
        ref = model_ref(namespace, model)
        return replace(self, models=tuple(m for m in self.models if m != ref))

    def why_allowed(self, namespace: str, model: str) -> str | None:
        """Why this caller may call ``namespace/model``, or None when it may not."""
        if model != EVERY_MODEL and model_ref(namespace, model) in self.models:
            return "granted"
        if namespace in self.namespaces:
            return f"every model of {namespace}"
        if "*" in self.namespaces:
            return "every model"
        return None


def monitor_grants() -> Grants:
    """The monitor's model-calling identity: every server's ``/metrics``, no model."""
    return Grants(CallerKind.SERVICE, MONITOR, metrics=("*",))
