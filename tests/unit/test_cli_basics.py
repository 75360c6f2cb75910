from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlctl.errors import ExitStatus
from tests.cli_runner import run_cli


def test_version() -> None:
    result = run_cli(["--version"])
    assert result.status == 0
    assert "mlctl, version" in result.stdout


def test_help_lists_commands_without_importing_them() -> None:
    code = (
        "import sys; from mlctl.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'rich', 'hvac', 'nomad', 'starlette') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "context" in out.stdout
    assert "HEAVY []" in out.stdout


def test_usage_error_exits_2() -> None:
    result = run_cli(["--no-such-flag"])
    assert result.status == ExitStatus.USAGE


def test_known_error_is_one_line_with_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCTL_CONFIG", str(tmp_path / "c.yaml"))
    result = run_cli(["context", "use", "missing"])
    assert result.status == ExitStatus.NOT_FOUND
    assert result.stderr.startswith("mlctl: error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_json_output_carries_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCTL_CONFIG", str(tmp_path / "c.yaml"))
    result = run_cli(["-o", "json", "context", "use", "missing"])
    body = json.loads(result.stdout)
    assert body["status"] == ExitStatus.NOT_FOUND
    assert body["error"] == "not found"


def test_debug_reraises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlctl.errors import NotFound

    monkeypatch.setenv("MLCTL_CONFIG", str(tmp_path / "c.yaml"))
    with pytest.raises(NotFound):
        run_cli(["--debug", "context", "use", "missing"])


def test_context_set_use_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCTL_CONFIG", str(tmp_path / "c.yaml"))
    assert run_cli(["context", "set", "a", "nomad_addr=http://a:4646"]).status == 0
    assert run_cli(["context", "set", "b", "nomad_addr=http://b:4646"]).status == 0
    assert run_cli(["context", "use", "b"]).status == 0
    shown = json.loads(run_cli(["-o", "json", "context", "show"]).stdout)
    assert shown["nomad_addr"] == "http://b:4646"
    listed = json.loads(run_cli(["-o", "json", "context", "list"]).stdout)
    assert [row["name"] for row in listed if row["current"]] == ["b"]


def test_context_set_refuses_secrets_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.yaml"
    monkeypatch.setenv("MLCTL_CONFIG", str(cfg))
    result = run_cli(["context", "set", "a", "nomad_token=abcdefgh"])
    assert result.status == ExitStatus.INVALID
    assert "abcdefgh" not in result.stderr
    assert not cfg.exists()
