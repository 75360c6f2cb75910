"""Who may call a deployed model: ``serving.auth`` plus the context, as the job's env.

``mlctl deploy`` (and ``job render``/``plan``, which show the same job) decides:

- the bundle says ``mode: jwt``, or says nothing and the context has a Vault address:
  the model requires tokens; the job's task gets the issuer (from Vault's OpenID
  discovery document unless ``serving.auth.issuer`` is set), the key URL (Vault's
  ``/v1/identity/oidc/.well-known/keys`` unless ``serving.auth.jwks_url``), the
  audience and its Nomad namespace, as ``MLCTL_AUTH_*`` variables ``mlctl serve`` reads;
- ``--public``: anyone may call it, with a one-line warning;
- ``mode: none`` with a Vault address and no ``--public``: refused (exit 15);
- no Vault address (``mlctl local`` on a laptop): anyone may call it, said in a note.

Pure but for ``issuer_of``, which the caller passes (one anonymous Vault request).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlctl.bundle.schema import AuthMode, BundleConfig
from mlctl.errors import ConfigError, UnsafeInput
from mlctl.settings import Settings

#: The task environment ``mlctl serve`` reads its auth from (click ``envvar``s).
ENV_MODE = "MLCTL_AUTH_MODE"
ENV_ISSUER = "MLCTL_AUTH_ISSUER"
ENV_AUDIENCE = "MLCTL_AUTH_AUDIENCE"
ENV_JWKS_URL = "MLCTL_AUTH_JWKS_URL"
ENV_JWKS_CA_PEM = "MLCTL_AUTH_JWKS_CA_PEM"
ENV_NAMESPACE = "MLCTL_AUTH_NAMESPACE"
#: Vault publishes the keys of its identity tokens here (no token needed).
VAULT_JWKS_PATH = "/v1/identity/oidc/.well-known/keys"


@dataclass(frozen=True)
class JobAuth:
    """The decision: the mode, the task's ``MLCTL_AUTH_*`` variables, one line to say."""

    mode: AuthMode
    env: dict[str, str] = field(default_factory=dict)
    notice: str | None = None


def job_auth(
    config: BundleConfig,
    settings: Settings,
    *,
    public: bool,
    issuer_of: Callable[[], str],
) -> JobAuth:
    """How the deployed model checks its callers (see the module docstring)."""
    section = config.serving.auth
    name = config.name
    open_env = {ENV_MODE: AuthMode.NONE.value}
    if public:
        return JobAuth(
            AuthMode.NONE,
            open_env,
            f"warning: --public: {name} will answer anyone who can reach its port, "
            "without a token",
        )
    vault = settings.vault_configured
    if section.mode is AuthMode.NONE:
        if vault:
            raise UnsafeInput(
                f"mlctl.yaml: serving.auth.mode: none would let anyone who reaches {name} "
                f"call it, while this context has Vault ({settings.vault_addr}) to check callers",
                hint="remove serving.auth.mode to require tokens, or deploy with --public",
            )
        return JobAuth(AuthMode.NONE, open_env, None)
    if section.mode is None and not vault:
        return JobAuth(
            AuthMode.NONE,
            open_env,
            f"note: {name} will answer anyone who can reach it: no Vault address in this "
            "context to check callers (set VAULT_ADDR, or serving.auth in mlctl.yaml)",
        )
    return JobAuth(AuthMode.JWT, _jwt_env(config, settings, issuer_of))


def _jwt_env(
    config: BundleConfig, settings: Settings, issuer_of: Callable[[], str]
) -> dict[str, str]:
    section = config.serving.auth
    vault = settings.vault_configured
    vault_addr = settings.vault_addr.rstrip("/")
    if not vault and not (section.issuer and section.jwks_url):
        raise ConfigError(
            "mlctl.yaml: serving.auth.mode is jwt, but this context has no Vault address "
            "to take the issuer and keys from",
            hint="set VAULT_ADDR (or the context's vault_addr), or serving.auth.issuer "
            "and serving.auth.jwks_url",
        )
    jwks_url = section.jwks_url or f"{vault_addr}{VAULT_JWKS_PATH}"
    env = {
        ENV_MODE: AuthMode.JWT.value,
        ENV_ISSUER: section.issuer or issuer_of(),
        ENV_AUDIENCE: section.audience,
        ENV_JWKS_URL: jwks_url,
        ENV_NAMESPACE: settings.nomad_namespace,
    }
    if section.jwks_url is None and jwks_url.startswith("https://") and settings.vault_cacert:
        env[ENV_JWKS_CA_PEM] = _read_ca(settings.vault_cacert)
    return env


def _read_ca(path: str) -> str:
    """The CA that verifies Vault, passed to the task as text (it is public)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"VAULT_CACERT {path}: cannot be read: {exc}") from None
