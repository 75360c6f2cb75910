"""Issue 15 end to end, against a real OpenBao dev server issuing the tokens.

From an empty Vault and Nomad: bootstrap, an admin, alice (a data scientist of team-a)
granted team-b's iris, an application with its AppRole granted iris; two model servers
in team-b (iris and churn) checking tokens against OpenBao's published keys. Then:
alice and the application get 200 on iris and 403 on churn; forged, expired, foreign
and missing tokens get 401; after ``access revoke`` no new token carries iris.

The model servers run in-process (uvicorn in a thread) with the settings ``mlctl
deploy`` passes to a job; that the job passes them is tested on the rendered job.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hvac
import pytest
import requests
import yaml
from joserfc import jwt
from joserfc.jwk import RSAKey

from mlctl.bundle.schema import AuthMode
from mlctl.errors import ExitStatus
from mlctl.serve.http import EventLog
from mlctl.serve.options import ServeOptions
from mlctl.serve.server import LocalServer
from mlctl.vault.client import Vault
from tests.cli_runner import Result, run_cli
from tests.e2e.support import make_bundle

ADMIN_PW = "ada-lovelace-analytical-engine"
ALICE_PW = "alice-correct-horse-battery"
IRIS_ROW = {"features": [[5.1, 3.5, 1.4, 0.2]]}
SEEN_SECRET_IDS: list[str] = []


class LogStream:
    """A thread-safe text sink for the servers' JSON lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            self.lines.append(text)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        with self._lock:
            return "".join(self.lines)


@contextmanager
def model_server(bundle: Path, namespace: str, vault_addr: str, log: LogStream) -> Iterator[str]:
    """The bundle served as a jwt server in ``namespace``, trusting ``vault_addr``."""
    issuer = requests.get(
        f"{vault_addr}/v1/identity/oidc/.well-known/openid-configuration", timeout=10
    ).json()["issuer"]
    options = ServeOptions(
        bundle_dir=bundle,
        auth_mode=AuthMode.JWT,
        auth_issuer=issuer,
        auth_jwks_url=f"{vault_addr}/v1/identity/oidc/.well-known/keys",
        auth_namespace=namespace,
    )
    local = LocalServer.build(options, port=0, log=EventLog(log))  # type: ignore[arg-type]
    thread = threading.Thread(target=local.server.run, kwargs={"sockets": [local.sock]})
    thread.daemon = True
    thread.start()
    base = f"http://127.0.0.1:{local.port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the model server did not become ready"
            time.sleep(0.05)
        yield base
    finally:
        local.server.should_exit = True
        thread.join(timeout=30)
        local.sock.close()


def call(base: str, token: str | None, path: str = "/predict") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.post(f"{base}{path}", json=IRIS_ROW, headers=headers, timeout=30)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class Runner:
    """Runs mlctl as one person at a time (own state dir, only the tokens given)."""

    def __init__(self, cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.cluster, self.tmp_path, self.mp = cluster, tmp_path, monkeypatch
        monkeypatch.setenv("VAULT_ADDR", cluster.vault_addr)
        monkeypatch.setenv("NOMAD_ADDR", cluster.nomad_addr)

    def act_as(self, who: str, *, vault_token: str | None = None) -> None:
        self.mp.setenv("MLCTL_STATE_DIR", str(self.tmp_path / f"state-{who}"))
        self.mp.delenv("NOMAD_TOKEN", raising=False)
        if vault_token:
            self.mp.setenv("VAULT_TOKEN", vault_token)
        else:
            self.mp.delenv("VAULT_TOKEN", raising=False)

    def ok(self, *args: str, stdin: str = "") -> Result:
        result = run_cli(list(args), stdin)
        assert result.status == 0, (args, result.stderr)
        return result


@pytest.fixture
def story(access_cluster, tmp_path, monkeypatch) -> Runner:
    """Bootstrapped (JWT mode, real OpenBao), with admin ada logged in and alice added."""
    runner = Runner(access_cluster, tmp_path, monkeypatch)
    runner.act_as("root", vault_token=access_cluster.root_token)
    runner.ok(
        "vault", "bootstrap", "--nomad-token-stdin", "--nomad-auth", "jwt",
        stdin=access_cluster.management_token + "\n",
    )  # fmt: skip
    runner.ok("user", "add", "ada", "--role", "admin", "--password-stdin", stdin=ADMIN_PW + "\n")
    runner.act_as("ada")
    runner.ok("login", "ada", "--password-stdin", stdin=ADMIN_PW + "\n")
    runner.ok(
        "user", "add", "alice", "--role", "data-scientist", "--namespace", "team-a",
        "--password-stdin", stdin=ALICE_PW + "\n",
    )  # fmt: skip
    return runner


def bundles(tmp_path: Path) -> tuple[Path, Path]:
    iris = make_bundle(tmp_path, "iris")
    churn = make_bundle(tmp_path, "churn")
    for bundle in (iris, churn):  # no clock leeway, so the expiry case needs no long wait
        config = yaml.safe_load((bundle / "mlctl.yaml").read_text())
        config.setdefault("serving", {})["auth"] = {"leeway_s": 0}
        (bundle / "mlctl.yaml").write_text(yaml.safe_dump(config))
    return iris, churn


def app_token(vault_addr: str, role_id: str, wrapped: str, role: str) -> str:
    """What an application does (the README's three calls): unwrap, log in, read."""
    unwrapped = requests.post(
        f"{vault_addr}/v1/sys/wrapping/unwrap", headers={"X-Vault-Token": wrapped}, timeout=10
    )
    assert unwrapped.status_code == 200, unwrapped.text
    secret_id = unwrapped.json()["data"]["secret_id"]
    SEEN_SECRET_IDS.append(secret_id)
    client = hvac.Client(url=vault_addr)
    client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    answer = client.read(f"identity/oidc/token/{role}")
    return str(answer["data"]["token"])


def test_only_granted_callers_get_answers(story, access_cluster, tmp_path):
    vault_addr = access_cluster.vault_addr
    iris, churn = bundles(tmp_path)

    # --- ada grants iris (team-b) to alice and creates an application for it ---------------
    story.act_as("ada")
    granted = story.ok("-n", "team-b", "access", "grant", "iris", "--user", "alice")
    assert "alice may now call team-b/iris" in granted.stderr
    created = story.ok("-n", "team-b", "-o", "json", "access", "app", "add", "billing",
                       "--model", "iris")  # fmt: skip
    credentials = json.loads(created.stdout)
    assert credentials["token_role"] == "mlctl-call-app-billing"
    assert credentials["wrapped_secret_id"] and credentials["role_id"]
    assert set(credentials) == {
        "app", "role_id", "wrapped_secret_id", "wrap_ttl_seconds", "token_role", "changes"
    }  # fmt: skip
    listed = json.loads(story.ok("-n", "team-b", "-o", "json", "access", "list", "iris").stdout)
    assert {row["caller"]: row["why"] for row in listed} == {
        "user:alice": "granted",
        "app:billing": "granted",
        "user:ada": "every model",  # an admin may call every model
    }

    log = LogStream()
    with (
        model_server(iris, "team-b", vault_addr, log) as iris_url,
        model_server(churn, "team-b", vault_addr, log) as churn_url,
    ):
        # --- alice, through her login -----------------------------------------------------
        story.act_as("alice")
        story.ok("login", "alice", "--password-stdin", stdin=ALICE_PW + "\n")
        alice = story.ok("access", "token").stdout.strip()
        assert claims_of(alice)["mlctl_models"] == ["team-b/iris"]
        assert claims_of(alice)["aud"] == "mlctl-models"
        assert call(iris_url, alice).status_code == 200
        assert call(iris_url, alice).json() == {"predictions": ["setosa"]}
        refused = call(churn_url, alice)
        assert refused.status_code == 403
        assert "insufficient_scope" in refused.headers["www-authenticate"]
        assert story.ok("access", "token").stdout.strip() == alice  # cached, not re-issued

        # --- the application, through its AppRole -----------------------------------------
        billing = app_token(
            vault_addr, credentials["role_id"], credentials["wrapped_secret_id"],
            credentials["token_role"],
        )  # fmt: skip
        assert call(iris_url, billing).status_code == 200
        assert SEEN_SECRET_IDS[-1] not in created.stdout + created.stderr  # mlctl never saw it
        metadata = f"{iris_url}/v2/models/iris"
        assert requests.get(metadata, timeout=10).status_code == 401
        bearer = {"Authorization": f"Bearer {billing}"}
        assert requests.get(metadata, headers=bearer, timeout=10).status_code == 200
        assert call(churn_url, billing).status_code == 403
        again = requests.post(
            f"{vault_addr}/v1/sys/wrapping/unwrap",
            headers={"X-Vault-Token": credentials["wrapped_secret_id"]},
            timeout=10,
        )
        assert again.status_code == 400  # single use: nobody can unwrap it a second time

        # --- what is not a granted token is 401 ---------------------------------------------
        for name, token in forgeries(story, vault_addr, alice).items():
            answer = call(iris_url, token)
            assert answer.status_code == 401, (name, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer"), name
        missing = call(iris_url, None)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="mlctl"'
        expired_token(story, vault_addr, iris_url)

        # --- revoking: no new token carries iris -------------------------------------------
        story.act_as("ada")
        revoked = story.ok("-n", "team-b", "access", "revoke", "iris", "--user", "alice")
        assert "tokens issued before keep working until they expire" in revoked.stderr
        story.act_as("alice")
        fresh = story.ok("access", "token", "--fresh").stdout.strip()
        assert fresh != alice
        assert "team-b/iris" not in claims_of(fresh)["mlctl_models"]
        assert call(iris_url, fresh).status_code == 403
        assert call(iris_url, alice).status_code == 200  # issued before: lives out its 15 min

        # --- removing the application stops its logins ------------------------------------
        story.act_as("ada")
        story.ok("access", "app", "remove", "billing", "--yes")
        denied = requests.get(
            f"{vault_addr}/v1/identity/oidc/token/mlctl-call-app-billing",
            headers={"X-Vault-Token": "nothing"},
            timeout=10,
        )
        assert denied.status_code == 403

    written = log.text()
    assert '"caller":"user:alice"' in written and '"caller":"app:billing"' in written
    assert '"sub":' in written
    for token in (alice, billing, fresh):
        assert token not in written and token.split(".")[2] not in written


def forgeries(story: Runner, vault_addr: str, alice: str) -> dict[str, str]:
    """Tokens that must all be refused with 401 by the iris server."""
    header = json.loads(base64.urlsafe_b64decode(alice.split(".")[0] + "=="))
    claims = claims_of(alice)
    # A token of the right shape and kid, signed by a key that is not Vault's.
    stranger = RSAKey.generate_key(2048, {"kid": header["kid"]})
    other_key = jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, stranger)
    # A real Vault token for another audience: alice's Nomad login token.
    cache = story.tmp_path / "state-alice" / "credentials.json"
    vault_token = json.loads(cache.read_text())["vault_token"]
    nomad_audience = hvac.Client(url=vault_addr, token=vault_token).read(
        "identity/oidc/token/mlctl-user-alice"
    )["data"]["token"]
    assert claims_of(nomad_audience)["aud"] == "mlctl-nomad"
    tampered_claims = {**claims, "mlctl_models": ["team-b/iris", "team-b/churn"]}
    head, claims_part, signature = alice.split(".")
    return {
        "signed by another key": other_key,
        "another audience (Nomad's)": nomad_audience,
        "alg none": f"{b64({'alg': 'none', 'kid': header['kid']})}.{b64(claims)}.",
        "tampered payload": f"{head}.{b64(tampered_claims)}.{signature}",
        "signature of another token": f"{head}.{claims_part}.{nomad_audience.split('.')[2]}",
    }


def expired_token(story: Runner, vault_addr: str, iris_url: str) -> None:
    """A real Vault token past its exp: the role's TTL is cut to 2 s for one token."""
    from mlctl.vault import identity

    root = Vault(hvac.Client(url=vault_addr, token=story.cluster.root_token), vault_addr)
    role = identity.read_role(root, "mlctl-call-user-alice")
    assert role is not None
    identity.write_role(root, role.name, key=role.key, client_id=role.client_id,
                        claims=role.claims, ttl="2s")  # fmt: skip
    story.act_as("alice")
    short = story.ok("access", "token", "--fresh").stdout.strip()
    identity.write_role(root, role.name, key=role.key, client_id=role.client_id,
                        claims=role.claims, ttl="15m")  # fmt: skip
    assert call(iris_url, short).status_code == 200
    while time.time() <= claims_of(short)["exp"] + 0.5:
        time.sleep(0.1)
    assert call(iris_url, short).status_code == 401  # the server had cached it: still refused


def test_access_needs_an_admin_and_says_what_is_wrong(story):
    story.act_as("alice")
    story.ok("login", "alice", "--password-stdin", stdin=ALICE_PW + "\n")
    denied = run_cli(["-n", "team-b", "access", "grant", "iris", "--user", "alice"])
    assert denied.status == ExitStatus.PERMISSION, denied.stderr
    story.act_as("ada")
    unknown = run_cli(["access", "grant", "iris", "--user", "zed"])
    assert unknown.status == ExitStatus.NOT_FOUND and "user zed does not exist" in unknown.stderr
    bad = run_cli(["access", "grant", "Iris!", "--user", "alice"])
    assert bad.status == ExitStatus.INVALID and "model name 'Iris!'" in bad.stderr
    both = run_cli(["access", "grant", "iris", "--user", "alice", "--app", "x"])
    assert both.status == ExitStatus.USAGE
    no_app = run_cli(["access", "grant", "iris", "--app", "ghost"])
    assert no_app.status == ExitStatus.NOT_FOUND and "access app add ghost" in no_app.stderr
    story.ok("access", "app", "add", "billing", "--model", "iris")
    twice = run_cli(["access", "app", "add", "billing", "--model", "iris"])
    assert twice.status == ExitStatus.CONFLICT
    for line in (denied, unknown, bad, no_app, twice):
        assert line.stderr.count("mlctl: error:") == 1


def test_a_data_scientist_may_call_their_namespace_and_a_viewer_nothing(story):
    story.act_as("ada")
    story.ok("user", "add", "victor", "--role", "viewer", "--password-stdin",
             stdin="victor-staple-horse-battery\n")  # fmt: skip
    story.act_as("alice")
    story.ok("login", "alice", "--password-stdin", stdin=ALICE_PW + "\n")
    token = story.ok("access", "token").stdout.strip()
    claims = claims_of(token)
    assert claims["mlctl_namespaces"] == ["team-a"] and claims["mlctl_metrics"] == ["team-a"]
    assert claims["mlctl_caller"] == "user:alice"
    assert story.ok("access", "token", "--header").stdout == f"Authorization: Bearer {token}\n"
    # What the TUI calls (as mlctl predict does): the same cached token, or a fresh one.
    from mlctl.session import model_token
    from mlctl.settings import load_settings

    assert model_token(load_settings()) == token
    fresh = model_token(load_settings(), fresh=True)
    assert fresh is not None and claims_of(fresh)["mlctl_caller"] == "user:alice"
    cache = story.tmp_path / "state-alice" / "model-token.json"
    assert cache.stat().st_mode & 0o777 == 0o600
    story.ok("logout")
    assert not cache.exists()
    gone = run_cli(["access", "token"])
    assert gone.status == ExitStatus.AUTH and "run mlctl login" in gone.stderr
    story.act_as("victor")
    story.ok("login", "victor", "--password-stdin", stdin="victor-staple-horse-battery\n")
    claims = claims_of(story.ok("access", "token").stdout.strip())
    assert claims["mlctl_namespaces"] == [] and claims["mlctl_models"] == []
    assert claims["mlctl_metrics"] == ["*"]
    # Revoking what a role grants says so.
    story.act_as("ada")
    kept = story.ok("-n", "team-a", "access", "revoke", "iris", "--user", "alice")
    assert "may still call team-a/iris: every model of team-a" in kept.stderr


def test_deploy_renders_tokens_required_with_vault(vault_server, tmp_path, monkeypatch):
    """The job `mlctl deploy` would register, with the issuer asked of the real server."""
    bundle = make_bundle(tmp_path, "iris")
    monkeypatch.setenv("VAULT_ADDR", vault_server.address)
    rendered = run_cli(["-n", "team-b", "job", "render", str(bundle)])
    assert rendered.status == 0, rendered.stderr
    issuer = requests.get(
        f"{vault_server.address}/v1/identity/oidc/.well-known/openid-configuration", timeout=10
    ).json()["issuer"]
    assert '"MLCTL_AUTH_ISSUER"' in rendered.stdout and f'"{issuer}"' in rendered.stdout
    keys = f'"{vault_server.address}/v1/identity/oidc/.well-known/keys"'
    assert keys in rendered.stdout
    assert '"MLCTL_AUTH_NAMESPACE" = "team-b"' in rendered.stdout.replace("  ", " ")

    public = run_cli(["job", "render", str(bundle), "--public"])
    assert public.status == 0 and '"MLCTL_AUTH_MODE" = "none"' in " ".join(public.stdout.split())
    assert public.stderr.count("warning: --public") == 1

    config = yaml.safe_load((bundle / "mlctl.yaml").read_text())
    config.setdefault("serving", {})["auth"] = {"mode": "none"}
    (bundle / "mlctl.yaml").write_text(yaml.safe_dump(config))
    refused = run_cli(["job", "render", str(bundle)])
    assert refused.status == ExitStatus.UNSAFE, refused.stderr
    assert refused.stderr.count("mlctl: error:") == 1 and "--public" in refused.stderr

    monkeypatch.delenv("VAULT_ADDR")
    laptop = run_cli(["job", "render", str(bundle)])
    assert laptop.status == 0 and '"MLCTL_AUTH_MODE" = "none"' in " ".join(laptop.stdout.split())


def readme_snippet(name: str) -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split(f"<!-- BEGIN snippet:{name} -->", 1)[1].split("<!-- END snippet:", 1)[0]
    return block.split("```python\n", 1)[1].rsplit("```", 1)[0]


def test_the_readmes_application_code_gets_answers(story, access_cluster, tmp_path):
    """The README's hvac + requests code, run as an application would run it."""
    import subprocess
    import sys

    iris, _ = bundles(tmp_path)
    story.act_as("ada")
    created = story.ok("-n", "team-b", "-o", "json", "access", "app", "add", "billing",
                       "--model", "iris")  # fmt: skip
    credentials = json.loads(created.stdout)
    log = LogStream()
    with model_server(iris, "team-b", access_cluster.vault_addr, log) as url:
        env = {
            "PATH": "/usr/bin:/bin",
            "VAULT_ADDR": access_cluster.vault_addr,
            "ROLE_ID": credentials["role_id"],
            "WRAPPED_SECRET_ID": credentials["wrapped_secret_id"],
            "MODEL_URL": url,
        }
        ran = subprocess.run(
            [sys.executable, "-c", readme_snippet("app-token")],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "200 {'predictions': ['setosa']}"
    assert '"caller":"app:billing"' in log.text()
