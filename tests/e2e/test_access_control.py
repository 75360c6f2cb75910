"""Issue 4's end-to-end story: from an empty Vault and Nomad to users with exactly
the rights their roles name, through the real hvac and python-nomad clients.

It runs in both ways users get Nomad tokens: JWT mode (Vault identity tokens exchanged
at Nomad's JWT auth method) against a real OpenBao dev server and against the Vault
simulator, and secrets-engine mode against the simulator (OpenBao has no Nomad secrets
engine; the simulator plays HashiCorp Vault there).

Every ``mlctl`` run's argv, stdout, stderr and the log records are kept and scanned
at the end for every password and token value the story handled.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import requests

from mlctl.errors import ExitStatus
from tests.cli_runner import Result, run_cli
from tests.e2e.support import make_bundle

ADMIN_PW = "ada-lovelace-analytical-engine"
ALICE_PW = "alice-correct-horse-battery"
VICTOR_PW = "victor-staple-horse-battery"
TIMEOUT = "60"


MODES = [
    pytest.param(("access_cluster", "jwt"), id="openbao-jwt"),
    pytest.param(("sim_access_cluster", "jwt"), id="simulator-jwt"),
    pytest.param(("sim_access_cluster", "secrets-engine"), id="simulator-secrets-engine"),
]


class Story:
    """Runs mlctl as one user at a time and keeps everything it printed."""

    def __init__(self, cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
        self.cluster, self.tmp_path, self.mp, self.mode = cluster, tmp_path, monkeypatch, mode
        self.seen: list[str] = []
        monkeypatch.setenv("VAULT_ADDR", cluster.vault_addr)
        monkeypatch.setenv("NOMAD_ADDR", cluster.nomad_addr)
        store = tmp_path / "store"
        store.mkdir()
        monkeypatch.setenv("MLCTL_ARTIFACT_STORE", store.resolve().as_uri())

    def act_as(self, who: str, *, vault_token: str | None = None, nomad_token: str | None = None):
        """Switch user: own state dir, and only the tokens given (else the login cache)."""
        self.mp.setenv("MLCTL_STATE_DIR", str(self.state_dir(who)))
        for name, value in (("VAULT_TOKEN", vault_token), ("NOMAD_TOKEN", nomad_token)):
            if value:
                self.mp.setenv(name, value)
            else:
                self.mp.delenv(name, raising=False)

    def state_dir(self, who: str) -> Path:
        return self.tmp_path / f"state-{who}"

    def run(self, *args: str, stdin: str = "") -> Result:
        result = run_cli(list(args), stdin)
        self.seen += [" ".join(args), result.stdout, result.stderr]
        return result

    def json(self, *args: str, stdin: str = "") -> tuple[Result, object]:
        result = self.run("-o", "json", *args, stdin=stdin)
        return result, json.loads(result.stdout) if result.stdout.strip() else None

    def denied(self, *args: str, stdin: str = "") -> Result:
        result = self.run(*args, stdin=stdin)
        assert result.status == ExitStatus.PERMISSION, (args, result)
        assert "permission denied" in result.stderr, (args, result)
        errors = [line for line in result.stderr.splitlines() if line.startswith("mlctl: error:")]
        assert len(errors) == 1, (args, result.stderr)  # progress notes may precede it
        return result


@pytest.fixture(params=MODES)
def story(request, tmp_path, monkeypatch):
    fixture, mode = request.param
    return Story(request.getfixturevalue(fixture), tmp_path, monkeypatch, mode)


def cached(story: Story, who: str) -> dict:
    path = story.state_dir(who) / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    return json.loads(path.read_text())


def test_access_control_story(story, tmp_path, caplog):
    cluster = story.cluster
    management = cluster.management_token

    # --- an operator with the root token sets everything up, twice -------------------
    story.act_as("root", vault_token=cluster.root_token)
    args = ("vault", "bootstrap", "--nomad-token-stdin", "--namespace", "team-b")
    args += ("--nomad-auth", story.mode)
    first, changes = story.json(*args, stdin=management + "\n")
    assert first.status == 0, first.stderr
    assert f"Nomad logins: {story.mode}" in first.stderr
    assert {c["action"] for c in changes} == {"created"}
    names = {c["name"] for c in changes}
    assert {"auth/userpass", "auth/approle", "mlctl-data-scientist", "team-b"} <= names
    if story.mode == "jwt":
        assert {"identity/oidc/key/mlctl", "mlctl-vault", "mlctl-viewer"} <= names
        assert "nomad/" not in names  # Vault holds no Nomad token in this mode
    else:
        assert "nomad/" in names
    again, changes = story.json(*args, stdin=management + "\n")
    assert again.status == 0, again.stderr
    assert {c["action"] for c in changes} == {"unchanged"}
    assert "nothing changed" in again.stderr

    # The root token creates the first admin; the admin (Vault admin, Nomad management
    # token from its login) adds everyone else.
    admin = story.run(
        "user", "add", "ada", "--role", "admin", "--password-stdin", stdin=ADMIN_PW + "\n"
    )
    assert admin.status == 0, admin.stderr
    story.act_as("ada")
    login = story.run("login", "ada", "--password-stdin", stdin=ADMIN_PW + "\n")
    assert login.status == 0, login.stderr
    ada_tokens = cached(story, "ada")

    added = story.run(
        "user",
        "add",
        "alice",
        "--role",
        "data-scientist",
        "--namespace",
        "team-a",
        "--password-stdin",
        stdin=ALICE_PW + "\n",
    )
    assert added.status == 0, added.stderr
    added = story.run(
        "user", "add", "victor", "--role", "viewer", "--password-stdin", stdin=VICTOR_PW + "\n"
    )
    assert added.status == 0, added.stderr
    _, alice_view = story.json("user", "show", "alice")
    assert alice_view["role"] == "data-scientist" and alice_view["namespaces"] == ["team-a"]

    # Something already runs in team-b (deployed with the management token).
    story.act_as("ops", nomad_token=management)
    bundle = make_bundle(tmp_path, "iris")
    deployed = story.run("-n", "team-b", "deploy", str(bundle), "--timeout", TIMEOUT)
    assert deployed.status == 0, deployed.stderr

    # --- alice: a data scientist in team-a ---------------------------------------------
    story.act_as("alice")
    login, who = story.json("login", "alice", "--password-stdin", stdin=ALICE_PW + "\n")
    assert login.status == 0, login.stderr
    assert who["role"] == "data-scientist" and who["namespaces"] == ["team-a"]
    alice_tokens = cached(story, "alice")

    ok = story.run("-n", "team-a", "deploy", str(bundle), "--timeout", TIMEOUT)
    assert ok.status == 0, ok.stderr
    assert story.run("-n", "team-a", "scale", "iris", "2").status == 0
    assert story.run("-n", "team-a", "logs", "iris").status == 0
    story.denied("-n", "team-b", "deploy", str(bundle), "--timeout", TIMEOUT)
    story.denied("-n", "team-b", "scale", "iris", "2")
    story.denied("-n", "team-b", "logs", "iris")
    story.denied(
        "user", "add", "mallory", "--role", "admin", "--password-stdin", stdin="mallory-pw-123\n"
    )

    status, me = story.json("whoami")
    assert status.status == 0, status.stderr
    assert me["user"] == "alice" and me["namespaces"] == ["team-a"]
    assert "team-a/mlctl-iris" in me["services"]
    assert not any(s.startswith("team-b/") for s in me["services"])

    # --- victor: a viewer ----------------------------------------------------------------
    story.act_as("victor")
    login = story.run("login", "victor", "--password-stdin", stdin=VICTOR_PW + "\n")
    assert login.status == 0, login.stderr
    victor_tokens = cached(story, "victor")
    listed = story.run("-n", "team-a", "status")
    assert listed.status == 0 and "iris" in listed.stdout, listed.stderr
    assert story.run("-n", "team-b", "status", "iris").status == 0
    story.denied("-n", "team-a", "deploy", str(bundle), "--timeout", TIMEOUT)
    story.denied("-n", "team-a", "scale", "iris", "1")
    story.denied("-n", "team-a", "stop", "iris", "--yes")

    # --- wrong passwords reveal nothing ------------------------------------------------
    story.act_as("nobody")
    wrong = story.run("login", "alice", "--password-stdin", stdin="not-alices-password\n")
    unknown = story.run("login", "zed", "--password-stdin", stdin="not-alices-password\n")
    assert wrong.status == unknown.status == ExitStatus.AUTH
    assert wrong.stderr == unknown.stderr

    # --- logout revokes both tokens -------------------------------------------------------
    story.act_as("victor")
    assert story.run("logout").status == 0
    assert not (story.state_dir("victor") / "credentials.json").exists()
    nomad_self = requests.get(
        f"{cluster.nomad_addr}/v1/acl/token/self",
        headers={"X-Nomad-Token": victor_tokens["nomad_token"]},
        timeout=5,
    )
    assert nomad_self.status_code == 403  # Vault revoked the lease: Nomad deleted the token
    vault_self = requests.get(
        f"{cluster.vault_addr}/v1/auth/token/lookup-self",
        headers={"X-Vault-Token": victor_tokens["vault_token"]},
        timeout=5,
    )
    assert vault_self.status_code == 403

    # --- removing alice revokes what she holds and stops her logins ------------------------
    story.act_as("ada")
    removed = story.run("user", "remove", "alice", "--yes")
    assert removed.status == 0, removed.stderr
    story.act_as("alice")
    gone = story.run("-n", "team-a", "status")
    assert gone.status == ExitStatus.AUTH, gone
    assert "run mlctl login" in gone.stderr
    nomad_self = requests.get(
        f"{cluster.nomad_addr}/v1/acl/token/self",
        headers={"X-Nomad-Token": alice_tokens["nomad_token"]},
        timeout=5,
    )
    assert nomad_self.status_code == 403  # her live Nomad token is gone
    again = story.run("login", "alice", "--password-stdin", stdin=ALICE_PW + "\n")
    assert again.status == ExitStatus.AUTH

    # --- no secret anywhere it could leak -----------------------------------------------
    secrets = [
        ADMIN_PW,
        ada_tokens["vault_token"],
        ada_tokens["nomad_token"],
        ALICE_PW,
        VICTOR_PW,
        management,
        cluster.root_token,
        alice_tokens["vault_token"],
        alice_tokens["nomad_token"],
        victor_tokens["vault_token"],
        victor_tokens["nomad_token"],
    ]
    everything = "\n".join(story.seen) + caplog.text
    for secret in secrets:
        assert secret not in everything


@pytest.mark.parametrize("mode", ["secrets-engine", "jwt"])
def test_an_expired_login_is_reported_clearly(sim_access_cluster, tmp_path, monkeypatch, mode):
    """Simulator: a day passes for Vault (its clock moves); a real server's cannot."""
    story = Story(sim_access_cluster, tmp_path, monkeypatch, mode)
    cluster = story.cluster
    story.act_as("root", vault_token=cluster.root_token)
    boot = story.run(
        "vault",
        "bootstrap",
        "--nomad-token-stdin",
        "--nomad-auth",
        mode,
        stdin=cluster.management_token,
    )
    assert boot.status == 0, boot.stderr
    added = story.run(
        "user", "add", "victor", "--role", "viewer", "--password-stdin", stdin=VICTOR_PW
    )
    assert added.status == 0, added.stderr
    story.act_as("victor")
    assert story.run("login", "victor", "--password-stdin", stdin=VICTOR_PW).status == 0
    # A day later Vault has revoked the token (and its lease: Nomad no longer knows the
    # token); a JWT login's Nomad token has reached its own expiry in Nomad.
    cluster.vault.advance(25 * 3600)
    if mode == "jwt":
        cluster.nomad.sim.advance(25 * 3600)
    result = story.run("status")
    assert result.status == ExitStatus.AUTH, result
    assert "token expired" in result.stderr and "mlctl login" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
