"""Who may call a deployed model: serving.auth plus the context, as the job's task env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import pytest

from mlctl.bundle.schema import AuthMode
from mlctl.deploy import auth
from mlctl.deploy.auth import job_auth
from mlctl.errors import ConfigError, ExitStatus, UnsafeInput
from mlctl.render import render_model_job
from mlctl.settings import Settings
from tests.unit.render_cases import bundle, options

ISSUER = "https://vault.example:8200/v1/identity/oidc"


def vault_settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "vault_addr": "https://vault.example:8200",
        "vault_configured": True,
        "nomad_namespace": "team-a",
    }
    values.update(changes)
    return Settings(**values)


def asked() -> str:
    return ISSUER


def never() -> str:
    raise AssertionError("Vault must not be asked")


def test_with_vault_the_model_requires_tokens_from_it():
    decided = job_auth(bundle(), vault_settings(), public=False, issuer_of=asked)
    assert decided.mode is AuthMode.JWT and decided.notice is None
    assert decided.env == {
        "MLCTL_AUTH_MODE": "jwt",
        "MLCTL_AUTH_ISSUER": ISSUER,
        "MLCTL_AUTH_AUDIENCE": "mlctl-models",
        "MLCTL_AUTH_JWKS_URL": "https://vault.example:8200/v1/identity/oidc/.well-known/keys",
        "MLCTL_AUTH_NAMESPACE": "team-a",
    }


def test_without_vault_anyone_may_call_and_a_note_says_so():
    decided = job_auth(bundle(), Settings(), public=False, issuer_of=never)
    assert decided.mode is AuthMode.NONE
    assert decided.env == {"MLCTL_AUTH_MODE": "none"}
    assert decided.notice is not None and "anyone who can reach it" in decided.notice


def test_mode_none_where_vault_could_check_is_refused():
    config = bundle(serving={"auth": {"mode": "none"}})
    with pytest.raises(UnsafeInput) as refused:
        job_auth(config, vault_settings(), public=False, issuer_of=never)
    assert refused.value.status == ExitStatus.UNSAFE
    assert "serving.auth.mode: none" in refused.value.message
    assert "--public" in (refused.value.hint or "")


def test_public_opens_it_with_one_warning_line():
    for config in (bundle(), bundle(serving={"auth": {"mode": "none"}})):
        decided = job_auth(config, vault_settings(), public=True, issuer_of=never)
        assert decided.mode is AuthMode.NONE and decided.env == {"MLCTL_AUTH_MODE": "none"}
        assert decided.notice is not None and decided.notice.startswith("warning: --public")
        assert "\n" not in decided.notice


def test_mode_none_without_vault_is_quietly_none():
    config = bundle(serving={"auth": {"mode": "none"}})
    decided = job_auth(config, Settings(), public=False, issuer_of=never)
    assert decided.mode is AuthMode.NONE and decided.notice is None


def test_the_bundle_may_name_its_own_issuer_and_keys():
    section = {"mode": "jwt", "issuer": "https://idp/v1/identity/oidc", "jwks_url": "https://idp/k",
               "audience": "scoring"}  # fmt: skip
    decided = job_auth(bundle(serving={"auth": section}), Settings(), public=False, issuer_of=never)
    assert decided.env["MLCTL_AUTH_ISSUER"] == "https://idp/v1/identity/oidc"
    assert decided.env["MLCTL_AUTH_JWKS_URL"] == "https://idp/k"
    assert decided.env["MLCTL_AUTH_AUDIENCE"] == "scoring"
    assert decided.env["MLCTL_AUTH_NAMESPACE"] == "default"


def test_jwt_without_vault_or_keys_is_one_clear_error():
    with pytest.raises(ConfigError, match="no Vault address"):
        job_auth(
            bundle(serving={"auth": {"mode": "jwt"}}), Settings(), public=False, issuer_of=never
        )


def test_vaults_ca_goes_to_the_task(tmp_path: Path):
    ca = tmp_path / "vault-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    decided = job_auth(
        bundle(), vault_settings(vault_cacert=str(ca)), public=False, issuer_of=asked
    )
    assert decided.env[auth.ENV_JWKS_CA_PEM] == ca.read_text()
    missing = vault_settings(vault_cacert=str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match=r"nope\.pem"):
        job_auth(bundle(), missing, public=False, issuer_of=asked)


def test_the_rendered_job_passes_issuer_keys_audience_and_namespace():
    decided = job_auth(bundle(), vault_settings(), public=False, issuer_of=asked)
    hcl = render_model_job(bundle(), options(namespace="team-a", auth_env=decided.env))
    job = hcl2.loads(hcl)
    (task,) = job["job"][0]['"mlctl-iris"']["group"][0]['"model"']["task"]
    env = task['"server"']["env"]
    assert env['"MLCTL_AUTH_MODE"'] == '"jwt"'
    assert env['"MLCTL_AUTH_JWKS_URL"'] == f'"{ISSUER}/.well-known/keys"'
    assert env['"MLCTL_AUTH_ISSUER"'] == f'"{ISSUER}"'
    assert env['"MLCTL_AUTH_NAMESPACE"'] == '"team-a"'
    assert env['"MLCTL_AUTH_AUDIENCE"'] == '"mlctl-models"'


def test_the_serve_command_reads_the_same_variables():
    """The names deploy writes are the ones mlctl serve's options read."""
    from mlctl.cli.serve import serve

    read = {param.envvar for param in serve.params if getattr(param, "envvar", None)}
    written = {getattr(auth, n) for n in dir(auth) if n.startswith("ENV_")}
    assert written <= read
