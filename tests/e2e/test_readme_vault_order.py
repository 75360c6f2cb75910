"""The README's Vault set-up, step by step, exactly in its order (issue 14 §2).

1. bootstrap with the root token; 2. add the first admin with it; 3. log in as that
admin; 4. add everyone else. The wrong ways round fail with one line saying what to do.
"""

from __future__ import annotations

import pytest
import requests

from mlctl.errors import ExitStatus
from tests.cli_runner import Result, run_cli

ADMIN_PW = "first-admin-password-42"
ALICE_PW = "alice-password-4242"


@pytest.fixture
def env(access_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", access_cluster.vault_addr)
    monkeypatch.setenv("NOMAD_ADDR", access_cluster.nomad_addr)
    monkeypatch.setenv("MLCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("VAULT_TOKEN", access_cluster.root_token)
    return access_cluster


def _error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("mlctl: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _add_alice() -> Result:
    return run_cli(
        ["user", "add", "alice", "--role", "data-scientist", "-n", "team-a", "--password-stdin"],
        ALICE_PW + "\n",
    )


def test_a_wrong_management_token_is_refused_before_vault_changes(env):
    result = run_cli(["vault", "bootstrap", "--nomad-token-stdin"], "not-the-management-token\n")
    assert result.status == ExitStatus.AUTH, result.stderr
    line = _error_line(result)
    assert "does not accept the management token given" in line
    assert "nomad acl bootstrap" in line and "run mlctl login" not in line
    mounts = requests.get(
        f"{env.vault_addr}/v1/sys/auth", headers={"X-Vault-Token": env.root_token}, timeout=10
    ).json()
    assert "userpass/" not in (mounts.get("data") or mounts)


def test_the_readme_order_works_and_the_wrong_order_says_what_to_do(env, monkeypatch):
    boot = run_cli(["vault", "bootstrap", "--nomad-token-stdin"], env.management_token + "\n")
    assert boot.status == 0, boot.stderr

    # Still only the root Vault token: a data scientist needs Nomad namespaces.
    early = _add_alice()
    assert early.status == ExitStatus.AUTH, early.stderr
    line = _error_line(early)
    assert "needs a Nomad management token" in line and "mlctl login ADMIN" in line

    admin = run_cli(
        ["user", "add", "admin1", "--role", "admin", "--password-stdin"], ADMIN_PW + "\n"
    )
    assert admin.status == 0, admin.stderr
    monkeypatch.delenv("VAULT_TOKEN")
    login = run_cli(["login", "admin1", "--password-stdin"], ADMIN_PW + "\n")
    assert login.status == 0, login.stderr

    added = _add_alice()
    assert added.status == 0, added.stderr
    shown = run_cli(["user", "show", "alice", "-o", "json"])
    assert '"team-a"' in shown.stdout

    refused = run_cli(["user", "remove", "alice"])  # no terminal, no --yes
    assert refused.status == ExitStatus.USAGE and "add --yes" in _error_line(refused)
    assert run_cli(["user", "remove", "alice", "--yes"]).status == 0
