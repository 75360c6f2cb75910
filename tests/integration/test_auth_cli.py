"""mlctl login/user/whoami against a real OpenBao (or Vault) dev server: failures are
one clear line.

These need no Nomad: they stop before credentials are minted (wrong passwords,
missing or expired logins, TLS), or act only in Vault (viewer users in JWT mode).
"""

from __future__ import annotations

import time

import pytest

from mlctl.credentials import CachedLogin, write_login
from mlctl.errors import ExitStatus
from mlctl.settings import load_settings
from tests.cli_runner import run_cli

PASSWORD = "victor-very-secret-pw"


@pytest.fixture
def vault_env(vault_server, monkeypatch, tmp_path):
    monkeypatch.setenv("VAULT_ADDR", vault_server.address)
    monkeypatch.setenv("MLCTL_STATE_DIR", str(tmp_path / "state"))
    return vault_server


@pytest.fixture
def victor(vault_env, monkeypatch):
    """A viewer created with the root token (viewers need nothing from Nomad)."""
    monkeypatch.setenv("VAULT_TOKEN", vault_env.root_token)
    assert run_cli(["vault", "--help"]).status == 0
    import hvac

    root = hvac.Client(url=vault_env.address, token=vault_env.root_token)
    root.sys.enable_auth_method("userpass")
    # bootstrap's part that matters here (JWT mode): the identity token signing key
    root.write_data("identity/oidc/key/mlctl", data={"allowed_client_ids": ["mlctl-nomad"]})
    result = run_cli(["user", "add", "victor", "--role", "viewer", "--password-stdin"], PASSWORD)
    assert result.status == 0, result.stderr
    monkeypatch.delenv("VAULT_TOKEN")
    return "victor"


def test_wrong_password_and_unknown_user_fail_the_same_way(victor):
    wrong = run_cli(["login", "victor", "--password-stdin"], "not-the-password\n")
    unknown = run_cli(["login", "nobody", "--password-stdin"], "not-the-password\n")
    assert wrong.status == unknown.status == ExitStatus.AUTH
    assert wrong.stderr == unknown.stderr
    assert "invalid username or password" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1


def test_admin_commands_say_not_logged_in(vault_env):
    result = run_cli(["user", "list"])
    assert result.status == ExitStatus.AUTH
    assert "not logged in" in result.stderr and "mlctl login" in result.stderr


def test_whoami_and_logout_without_a_login(vault_env):
    assert run_cli(["whoami"]).status == ExitStatus.AUTH
    result = run_cli(["logout"])
    assert result.status == 0 and "not logged in" in result.stderr


def test_an_expired_login_is_named_as_such(vault_env, tmp_path):
    settings = load_settings()
    past = time.time() - 60
    write_login(
        settings,
        CachedLogin(
            username="alice",
            vault_token="hvs.expired-token-value",
            vault_expires_at=past,
            nomad_token="expired-nomad-secret",
            nomad_expires_at=past,
            renewed_at=past - 3600,
        ),
    )
    for args in (["user", "list"], ["whoami"], ["status"]):
        result = run_cli(args)
        assert result.status == ExitStatus.AUTH, (args, result)
        assert "expired" in result.stderr and "mlctl login" in result.stderr, args
        assert "hvs.expired-token-value" not in result.stderr + result.stdout


def test_user_show_as_root_and_permission_denied_for_a_viewer(victor, vault_env, monkeypatch):
    monkeypatch.setenv("VAULT_TOKEN", vault_env.root_token)
    shown = run_cli(["-o", "json", "user", "show", "victor"])
    assert shown.status == 0, shown.stderr
    assert '"role": "viewer"' in shown.stdout and PASSWORD not in shown.stdout
    # The viewer's own Vault token may not manage users.
    import hvac

    viewer = hvac.Client(url=vault_env.address)
    token = viewer.auth.userpass.login("victor", PASSWORD)["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", token)
    denied = run_cli(
        ["user", "add", "eve", "--role", "admin", "--password-stdin"], "eve-pass-123\n"
    )
    assert denied.status == ExitStatus.PERMISSION
    assert "permission denied" in denied.stderr
    assert token not in denied.stderr + denied.stdout


def test_passwords_are_refused_as_arguments(victor):
    # There is no --password option at all: a password can only come from stdin or a prompt.
    result = run_cli(["login", "victor", "--password", PASSWORD])
    assert result.status == ExitStatus.USAGE


# --- TLS ---------------------------------------------------------------------------------


@pytest.fixture
def https_vault(tls_vault_server, monkeypatch):
    """A real dev server on HTTPS with a certificate from its own CA."""
    handle, ca = tls_vault_server
    monkeypatch.setenv("VAULT_ADDR", handle.address)
    monkeypatch.setenv("VAULT_TOKEN", handle.root_token)
    import hvac

    hvac.Client(url=handle.address, token=handle.root_token, verify=str(ca)).sys.enable_auth_method(
        "userpass"
    )
    import mlctl.endpoint

    monkeypatch.setattr(mlctl.endpoint, "_warned_insecure", set())
    return handle, ca


def test_tls_is_verified_by_default_with_a_clear_message(https_vault):
    result = run_cli(["user", "list"])
    assert result.status == ExitStatus.UNREACHABLE
    assert "TLS verification failed" in result.stderr
    assert "VAULT_CACERT" in result.stderr and "--ca-cert" in result.stderr


def test_ca_cert_flag_and_env_make_tls_work(https_vault, monkeypatch):
    _, cert = https_vault
    flag = run_cli(["--ca-cert", str(cert), "user", "list"])
    assert flag.status == 0, flag.stderr
    monkeypatch.setenv("VAULT_CACERT", str(cert))
    env = run_cli(["user", "list"])
    assert env.status == 0, env.stderr


def test_skip_verify_works_and_warns(https_vault):
    result = run_cli(["--skip-verify", "user", "list"])
    assert result.status == 0, result.stderr
    assert "TLS verification for Vault is off" in result.stderr


def test_a_missing_ca_file_is_a_config_error(https_vault, tmp_path):
    result = run_cli(["--ca-cert", str(tmp_path / "nope.pem"), "user", "list"])
    assert result.status == ExitStatus.CONFIG
    assert "nope.pem" in result.stderr


def test_user_add_before_bootstrap_says_what_to_run(vault_env, monkeypatch):
    monkeypatch.setenv("VAULT_TOKEN", vault_env.root_token)
    result = run_cli(["user", "add", "bob", "--role", "viewer", "--password-stdin"], PASSWORD)
    assert result.status == ExitStatus.CONFIG
    assert "mlctl vault bootstrap" in result.stderr


def test_a_login_near_expiry_is_renewed_on_use(victor, vault_env):
    import hvac

    from mlctl.access.policy_files import vault_role_policies
    from mlctl.credentials import read_login
    from mlctl.session import resolve_nomad_token

    root = hvac.Client(url=vault_env.address, token=vault_env.root_token)
    root.sys.create_or_update_acl_policy("mlctl-viewer", vault_role_policies()["mlctl-viewer"])
    client = hvac.Client(url=vault_env.address)
    auth = client.auth.userpass.login("victor", PASSWORD)["auth"]
    settings = load_settings()
    now = time.time()
    write_login(
        settings,
        CachedLogin(
            username="victor",
            vault_token=auth["client_token"],
            vault_expires_at=now + 60,  # the last minute of an hour-long login
            nomad_token="nomad-secret-not-leased",
            renewed_at=now - 3540,
        ),
    )
    assert resolve_nomad_token(settings) == "nomad-secret-not-leased"
    renewed = read_login(settings)
    assert renewed is not None and renewed.vault_expires_at > now + 3600
    assert not renewed.due_for_renewal()


def test_every_command_has_help_with_examples():
    for args in (
        ["vault", "bootstrap"],
        ["user", "add"],
        ["user"],
        ["login"],
        ["logout"],
        ["whoami"],
    ):
        result = run_cli([*args, "--help"])
        assert result.status == 0, args
        assert "Examples:" in result.stdout, args
