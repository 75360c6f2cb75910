"""Issue 15 for real processes: models deployed on ``mlctl local`` with a real OpenBao.

The runtime runs the model servers as processes (raw_exec); the deploy, with a Vault
address in the environment, makes them require tokens; ``mlctl predict`` obtains its
token from OpenBao by itself (the same ``mlctl.session.model_token`` the TUI calls).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mlctl.errors import ExitStatus
from mlctl.local import control
from mlctl.local.paths import LocalPaths
from tests.cli_runner import run_cli
from tests.e2e.support import make_bundle

ALICE_PW = "alice-correct-horse-battery"
ROW = '{"features": [[6.7, 3.0, 5.2, 2.3]]}'
WAIT = "240"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def runtime(tmp_path, monkeypatch) -> Iterator[LocalPaths]:
    """``mlctl local up`` in a state directory of its own; stopped (models too) after."""
    paths = LocalPaths(tmp_path / "local")
    monkeypatch.setenv("MLCTL_LOCAL_DIR", str(paths.root))
    up = run_cli(["-o", "json", "local", "up", "--port", str(free_port())])
    assert up.status == 0, up.stderr
    yield paths
    with contextlib.suppress(Exception):
        control.down(paths)
    for process in psutil.process_iter(["cwd"]):
        cwd = process.info.get("cwd") or ""
        if cwd.startswith(str(paths.root)) and process.pid != os.getpid():
            with contextlib.suppress(psutil.Error):
                process.kill()


def ok(*args: str, stdin: str = "") -> str:
    result = run_cli(list(args), stdin)
    assert result.status == 0, (args, result.stderr)
    return result.stdout


def test_predict_gets_its_token_and_models_refuse_the_rest(
    vault_server, runtime, tmp_path, monkeypatch
):
    monkeypatch.setenv("VAULT_ADDR", vault_server.address)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.root_token)
    management = runtime.token.read_text(encoding="utf-8").strip()
    ok("vault", "bootstrap", "--nomad-token-stdin", "--nomad-auth", "jwt", stdin=management + "\n")
    ok("user", "add", "alice", "--role", "viewer", "--password-stdin", stdin=ALICE_PW + "\n")
    ok("access", "grant", "iris", "--user", "alice")

    for name in ("iris", "churn"):  # deployed with the runtime's own (management) token
        bundle = make_bundle(tmp_path, name)
        deployed = run_cli(["deploy", str(bundle), "--timeout", WAIT])
        assert deployed.status == 0, deployed.stderr
        assert "anyone" not in deployed.stderr  # a Vault address: tokens required, no note

    monkeypatch.delenv("VAULT_TOKEN")
    monkeypatch.setenv("MLCTL_STATE_DIR", str(tmp_path / "nobody"))
    anonymous = run_cli(["predict", "iris", ROW])
    assert anonymous.status == ExitStatus.AUTH, anonymous.stderr
    assert "not logged in" in anonymous.stderr and "mlctl login" in anonymous.stderr

    monkeypatch.setenv("MLCTL_STATE_DIR", str(tmp_path / "alice"))
    ok("login", "alice", "--password-stdin", stdin=ALICE_PW + "\n")
    assert json.loads(ok("predict", "iris", ROW)) == {"predictions": ["virginica"]}
    refused = run_cli(["predict", "churn", ROW])
    assert refused.status == ExitStatus.PERMISSION, refused.stderr
    assert "does not grant model default/churn" in refused.stderr
    assert refused.stderr.count("mlctl: error:") == 1

    # A grant made after alice's token was cached: the 403 makes predict ask for a fresh one.
    monkeypatch.setenv("VAULT_TOKEN", vault_server.root_token)
    ok("access", "grant", "churn", "--user", "alice")
    monkeypatch.delenv("VAULT_TOKEN")
    assert json.loads(ok("predict", "churn", ROW)) == {"predictions": ["virginica"]}

    logs = ok("logs", "iris", "--stderr")
    assert '"caller":"user:alice"' in logs
    cached = json.loads((tmp_path / "alice" / "model-token.json").read_text())["token"]
    assert cached not in logs and cached.split(".")[2] not in logs
    assert Path(runtime.root).exists()
