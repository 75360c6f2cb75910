"""``mlctl vault bootstrap --nomad-auth``: choosing the mode, part-way failures, services.

Against the real OpenBao dev server (JWT mode; it has no Nomad secrets engine) and the
Vault simulator where HashiCorp Vault's Nomad secrets engine is needed.
"""

from __future__ import annotations

import json

import hvac
import pytest
import requests

from mlctl.errors import ExitStatus
from mlctl.settings import load_settings
from tests.cli_runner import run_cli

ADMIN_PW = "ada-lovelace-analytical-engine"


def _env(monkeypatch, cluster, tmp_path, vault_token=None):
    monkeypatch.setenv("VAULT_ADDR", cluster.vault_addr)
    monkeypatch.setenv("NOMAD_ADDR", cluster.nomad_addr)
    monkeypatch.setenv("MLCTL_STATE_DIR", str(tmp_path / "state"))
    if vault_token:
        monkeypatch.setenv("VAULT_TOKEN", vault_token)


def bootstrap(cluster, *args: str, token: str | None = None):
    return run_cli(
        ["-o", "json", "vault", "bootstrap", "--nomad-token-stdin", *args],
        (token or cluster.management_token) + "\n",
    )


def test_auto_chooses_jwt_on_openbao_and_says_why(access_cluster, tmp_path, monkeypatch):
    _env(monkeypatch, access_cluster, tmp_path, access_cluster.root_token)
    result = bootstrap(access_cluster)
    assert result.status == 0, result.stderr
    assert "Nomad logins: jwt (this server has no Nomad secrets engine" in result.stderr
    again = bootstrap(access_cluster)
    assert "Nomad logins: jwt (already set up for identity tokens)" in again.stderr
    assert {c["action"] for c in json.loads(again.stdout)} == {"unchanged"}


def test_auto_chooses_the_secrets_engine_where_vault_has_one(
    sim_access_cluster, tmp_path, monkeypatch
):
    """Simulator: it plays HashiCorp Vault, whose catalog has the Nomad secrets engine."""
    _env(monkeypatch, sim_access_cluster, tmp_path, sim_access_cluster.root_token)
    result = bootstrap(sim_access_cluster)
    assert result.status == 0, result.stderr
    assert "Nomad logins: secrets-engine (this Vault has the Nomad secrets engine)" in (
        result.stderr
    )


def test_the_secrets_engine_on_openbao_is_refused_clearly(access_cluster, tmp_path, monkeypatch):
    _env(monkeypatch, access_cluster, tmp_path, access_cluster.root_token)
    result = bootstrap(access_cluster, "--nomad-auth", "secrets-engine")
    assert result.status == ExitStatus.CONFIG
    lines = [line for line in result.stderr.splitlines() if line.startswith("mlctl: error:")]
    assert len(lines) == 1 and "no Nomad secrets engine" in lines[0]
    assert "--nomad-auth jwt" in result.stderr
    assert "changes" not in json.loads(result.stdout)  # refused before changing anything


def test_a_part_way_failure_lists_what_changed_and_a_rerun_completes(
    access_cluster, tmp_path, monkeypatch
):
    _env(monkeypatch, access_cluster, tmp_path, access_cluster.root_token)
    # Every Vault step works, then the first Nomad write is refused. (A wrong management
    # token no longer gets this far: bootstrap checks it before changing anything.)
    import mlctl.access.bootstrap as steps
    from mlctl.errors import PermissionDenied

    def refused(*_args, **_kwargs):
        raise PermissionDenied("permission denied: POST /v1/acl/policy/mlctl-operator")

    with monkeypatch.context() as patched:
        patched.setattr(steps, "ensure_policy", refused)
        failed = bootstrap(access_cluster, "--nomad-auth", "jwt")
        assert failed.status == ExitStatus.PERMISSION, failed.stderr
        done = json.loads(failed.stdout)["changes"]
        assert {"auth/userpass", "auth/approle", "mlctl-admin"} <= {c["name"] for c in done}
        assert all(c["system"] == "vault" for c in done)
        assert "already changed (listed with this error)" in failed.stderr
        table = run_cli(
            ["vault", "bootstrap", "--nomad-token-stdin", "--nomad-auth", "jwt"],
            access_cluster.management_token + "\n",
        )
        assert table.status == failed.status and "auth/userpass" in table.stdout
        assert "run the same command again" in failed.stderr
    wrong = bootstrap(access_cluster, "--nomad-auth", "jwt", token="not-a-nomad-token-1234")
    assert wrong.status == ExitStatus.AUTH, wrong.stderr
    assert "does not accept the management token given" in wrong.stderr
    completed = bootstrap(access_cluster, "--nomad-auth", "jwt")
    assert completed.status == 0, completed.stderr
    rows = json.loads(completed.stdout)
    assert {c["action"] for c in rows if c["system"] == "vault"} <= {"unchanged", "created"}
    assert {c["action"] for c in rows if c["system"] == "nomad"} == {"created"}
    assert "not-a-nomad-token-1234" not in wrong.stderr + wrong.stdout


def test_user_show_list_and_whoami_in_jwt_mode(access_cluster, tmp_path, monkeypatch):
    _env(monkeypatch, access_cluster, tmp_path, access_cluster.root_token)
    assert bootstrap(access_cluster, "--namespace", "team-a").status == 0
    added = run_cli(["user", "add", "ada", "--role", "admin", "--password-stdin"], ADMIN_PW + "\n")
    assert added.status == 0, added.stderr
    shown = json.loads(run_cli(["-o", "json", "user", "show", "ada"]).stdout)
    assert shown["nomad_auth"] == "jwt" and shown["nomad_token_type"] == "management"
    monkeypatch.delenv("VAULT_TOKEN")
    login = run_cli(["login", "ada", "--password-stdin"], ADMIN_PW + "\n")
    assert login.status == 0, login.stderr
    me = json.loads(run_cli(["-o", "json", "whoami"]).stdout)
    assert me["nomad_auth"] == "jwt" and me["nomad_token_type"] == "management"
    assert me["namespaces"] == ["default", "team-a"]
    listed = json.loads(run_cli(["-o", "json", "user", "list"]).stdout)
    assert [u["name"] for u in listed] == ["ada"]


@pytest.mark.parametrize("mode", ["jwt", "secrets-engine"])
def test_the_monitor_approle_gets_a_nomad_token(request, tmp_path, monkeypatch, mode):
    cluster = request.getfixturevalue("access_cluster" if mode == "jwt" else "sim_access_cluster")
    _env(monkeypatch, cluster, tmp_path, cluster.root_token)
    assert bootstrap(cluster, "--nomad-auth", mode).status == 0
    root = hvac.Client(url=cluster.vault_addr, token=cluster.root_token)
    role_id = root.auth.approle.read_role_id("mlctl-monitor")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("mlctl-monitor")["data"]["secret_id"]
    from mlctl.session import service_token_minter

    mint = service_token_minter(load_settings(), role_id, secret_id)
    token = mint()
    me = requests.get(
        f"{cluster.nomad_addr}/v1/acl/token/self", headers={"X-Nomad-Token": token}, timeout=10
    ).json()
    if mode == "jwt":
        assert [r["Name"] for r in me["Roles"]] == ["mlctl-monitor"] and me["Name"] == (
            "mlctl-mlctl-monitor"
        )
    else:
        assert me["Policies"] == ["mlctl-monitor"]
    jobs = requests.get(
        f"{cluster.nomad_addr}/v1/jobs", headers={"X-Nomad-Token": token}, timeout=10
    )
    assert jobs.status_code == 200
