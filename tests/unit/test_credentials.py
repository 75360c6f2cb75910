"""The login cache: file modes, damage, expiry, and which Nomad token is sent."""

from __future__ import annotations

import json
import stat
import time

import pytest

from mlctl.credentials import (
    CachedLogin,
    cache_path,
    forget_login,
    read_login,
    write_login,
)
from mlctl.errors import AuthError, ConfigError
from mlctl.session import resolve_nomad_token
from mlctl.settings import load_settings


def settings(tmp_path, **env):
    return load_settings(env={"MLCTL_STATE_DIR": str(tmp_path / "state"), **env})


def login(**changes):
    now = time.time()
    values = dict(
        username="alice",
        vault_token="hvs.vault-secret-value",
        vault_expires_at=now + 3600,
        nomad_token="nomad-secret-value-1234",
        nomad_expires_at=now + 3600,
        renewed_at=now,
    )
    values.update(changes)
    return CachedLogin(**values)


def test_cache_is_0600_in_a_0700_directory(tmp_path):
    s = settings(tmp_path)
    path = write_login(s, login())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_login(s) == login(
        vault_expires_at=read_login(s).vault_expires_at,
        nomad_expires_at=read_login(s).nomad_expires_at,
        renewed_at=read_login(s).renewed_at,
    )


def test_a_cache_readable_by_others_is_refused(tmp_path):
    s = settings(tmp_path)
    path = write_login(s, login())
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        read_login(s)


def test_a_damaged_cache_says_to_log_in_again(tmp_path):
    s = settings(tmp_path)
    path = write_login(s, login())
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="damaged"):
        read_login(s)


def test_nomad_token_env_wins_over_the_cache(tmp_path):
    s = settings(tmp_path, NOMAD_TOKEN="env-token-abcdef")
    write_login(s, login())
    assert resolve_nomad_token(s) == "env-token-abcdef"


def test_cached_token_is_used_and_nobody_logged_in_is_anonymous(tmp_path):
    s = settings(tmp_path)
    assert resolve_nomad_token(s) is None
    write_login(s, login())
    assert resolve_nomad_token(s) == "nomad-secret-value-1234"
    forget_login(s)
    assert not cache_path(s).exists()


def test_an_expired_login_says_so(tmp_path):
    s = settings(tmp_path)
    write_login(s, login(nomad_expires_at=time.time() - 1, renewed_at=time.time() - 7200))
    with pytest.raises(AuthError) as caught:
        resolve_nomad_token(s)
    assert "expired" in caught.value.one_line() and "mlctl login" in caught.value.one_line()


def test_renewal_is_due_in_the_last_third_of_the_lifetime():
    start = 1_000_000.0
    cached = login(vault_expires_at=start + 300, nomad_expires_at=start + 300, renewed_at=start)
    assert not cached.due_for_renewal(now=start + 150)
    assert cached.due_for_renewal(now=start + 201)


def test_the_cache_holds_no_password(tmp_path):
    s = settings(tmp_path)
    path = write_login(s, login())
    assert set(json.loads(path.read_text())) >= {"vault_token", "nomad_token"}
    assert "password" not in path.read_text()


def test_the_contexts_token_file_comes_before_the_login_cache(tmp_path):
    token_file = tmp_path / "management.token"
    token_file.write_text("local-management-token\n")
    token_file.chmod(0o600)
    s = settings(tmp_path, MLCTL_NOMAD_TOKEN_FILE=str(token_file))
    write_login(s, login())  # a login to some other cluster must not be sent to this one
    assert resolve_nomad_token(s) == "local-management-token"
    env_wins = settings(tmp_path, MLCTL_NOMAD_TOKEN_FILE=str(token_file), NOMAD_TOKEN="env-tok")
    assert resolve_nomad_token(env_wins) == "env-tok"


@pytest.mark.parametrize(
    ("content", "mode", "fragment"),
    [
        (None, 0o600, "does not exist"),
        ("tok", 0o644, "readable by others"),
        ("  \n", 0o600, "is empty"),
    ],
)
def test_a_bad_token_file_is_one_clear_configuration_error(tmp_path, content, mode, fragment):
    token_file = tmp_path / "management.token"
    if content is not None:
        token_file.write_text(content)
        token_file.chmod(mode)
    s = settings(tmp_path, MLCTL_NOMAD_TOKEN_FILE=str(token_file))
    with pytest.raises(ConfigError, match=fragment):
        resolve_nomad_token(s)
