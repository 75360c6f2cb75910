"""What a new user types wrong, and the one line mlctl answers with (issue 14 §2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from mlctl.errors import ExitStatus, MlctlError
from tests.cli_runner import run_cli

REPO = Path(__file__).resolve().parents[2]


def _one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("mlctl: error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


# --- the README's exit status table is the enum ----------------------------------------


def _readme_exit_table() -> dict[int, str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Exit statuses", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {int(code): meaning for code, meaning in rows}


def test_readme_exit_table_lists_exactly_the_enum() -> None:
    table = _readme_exit_table()
    assert sorted(table) == sorted(int(status) for status in ExitStatus)


def test_every_error_class_has_a_documented_status() -> None:
    table = _readme_exit_table()

    def subclasses(cls: type[MlctlError]) -> Iterator[type[MlctlError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    import mlctl.bundle.config  # noqa: F401  (error classes defined outside errors.py)

    for cls in subclasses(MlctlError):
        assert int(cls.status) in table, cls


# --- prompts without a terminal -------------------------------------------------------


def test_login_without_a_terminal_points_to_password_stdin() -> None:
    result = run_cli(["login", "alice"])  # stdin is not a terminal here
    assert result.status == ExitStatus.USAGE
    line = _one_error_line(result.stderr)
    assert "--password-stdin" in line


def test_login_without_a_terminal_shows_no_python_warning() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlctl", "login", "alice"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == ExitStatus.USAGE, done.stderr
    assert "GetPassWarning" not in done.stderr and "Warning" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_an_empty_password_stdin_says_what_to_pipe() -> None:
    result = run_cli(["login", "alice", "--password-stdin"], stdin="\n")
    assert result.status == ExitStatus.INVALID
    line = _one_error_line(result.stderr)
    assert "--password-stdin: no password on stdin" in line
    assert "mlctl login ... --password-stdin" in line


def test_user_remove_without_a_terminal_needs_yes() -> None:
    result = run_cli(["user", "remove", "alice"])
    assert result.status == ExitStatus.USAGE
    assert "add --yes" in _one_error_line(result.stderr)


def test_stop_without_a_terminal_needs_yes() -> None:
    result = run_cli(["stop", "iris"])
    assert result.status == ExitStatus.USAGE
    assert "add --yes" in _one_error_line(result.stderr)


# --- contexts and settings --------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.yaml"
    monkeypatch.setenv("MLCTL_CONFIG", str(path))
    return path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["context", "set", "x", "nomad_addr=notaurl"], "'notaurl' is not a http:// or https://"),
        (["context", "set", "x", "vault_addr=ftp://v:8200"], "is not a http:// or https://"),
        (["context", "set", "x", "artifact_store=s3://bucket"], "is not a http://"),
        (["context", "set", "x", "nomad_namespace=bad ns"], "is not a Nomad namespace name"),
        (["context", "set", "Bad_Name", "nomad_addr=http://a:4646"], "context name 'Bad_Name'"),
        (["context", "set", "-x", "nomad_addr=http://a:4646"], "No such option"),
    ],
)
def test_context_set_checks_every_value_and_writes_nothing(
    config: Path, args: list[str], words: str
) -> None:
    result = run_cli(args)
    assert result.status in {ExitStatus.INVALID, ExitStatus.USAGE}, result
    assert words in result.stderr
    assert not config.exists()


def test_a_bad_value_in_the_file_can_still_be_repaired_with_context_set(config: Path) -> None:
    config.write_text(
        yaml.safe_dump({"current-context": "lab", "contexts": {"lab": {"nomad_addr": "oops"}}})
    )
    broken = run_cli(["status"])
    assert broken.status == ExitStatus.CONFIG
    line = _one_error_line(broken.stderr)
    assert "contexts.lab.nomad_addr: 'oops' is not a http:// or https:// URL" in line
    assert run_cli(["context", "set", "lab", "nomad_addr=http://10.0.0.1:4646"]).status == 0
    assert json.loads(run_cli(["context", "show", "-o", "json"]).stdout)["nomad_addr"] == (
        "http://10.0.0.1:4646"
    )


def test_context_show_names_the_context_in_use(config: Path, monkeypatch) -> None:
    run_cli(["context", "set", "lab", "nomad_addr=http://10.0.0.1:4646"])
    run_cli(["context", "set", "prod", "nomad_addr=http://10.0.0.2:4646"])
    assert run_cli(["context", "use", "lab"]).status == 0
    shown = run_cli(["context", "show"]).stdout
    assert re.search(r"^context\s+lab$", shown, flags=re.MULTILINE), shown
    assert json.loads(run_cli(["--context", "prod", "context", "show", "-o", "json"]).stdout)[
        "context"
    ] == "prod"
    monkeypatch.setenv("MLCTL_CONTEXT", "prod")
    assert json.loads(run_cli(["context", "show", "-o", "json"]).stdout)["context"] == "prod"


@pytest.mark.parametrize("namespace", ["bad ns", "a/b", "x" * 129, ""])
def test_a_bad_namespace_flag_is_refused(namespace: str, iris_bundle: Path) -> None:
    result = run_cli(["job", "render", str(iris_bundle), "--namespace", namespace])
    assert result.status == ExitStatus.CONFIG, result
    line = _one_error_line(result.stderr)
    assert f"--namespace: {namespace!r} is not a Nomad namespace name" in line


def test_the_every_namespace_wildcard_is_refused_where_one_job_is_meant(iris_bundle) -> None:
    result = run_cli(["job", "render", str(iris_bundle), "-n", "*"])
    assert result.status == ExitStatus.INVALID
    assert "namespace '*'" in _one_error_line(result.stderr)


# --- hints that send people the right way ------------------------------------------------


class _PlainHTTP(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def plain_http() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PlainHTTP)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_https_to_a_plain_http_nomad_says_use_http(plain_http: str) -> None:
    result = run_cli(["status", "--nomad-addr", f"https://{plain_http}"])
    assert result.status == ExitStatus.UNREACHABLE
    line = _one_error_line(result.stderr)
    assert f"use NOMAD_ADDR=http://{plain_http}" in line
    assert "CACERT" not in line


def test_https_to_a_plain_http_vault_says_use_http(plain_http: str, monkeypatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "s.not-a-real-token")
    result = run_cli(["user", "list", "--vault-addr", f"https://{plain_http}"])
    assert result.status == ExitStatus.UNREACHABLE
    line = _one_error_line(result.stderr)
    assert f"use VAULT_ADDR=http://{plain_http}" in line


def test_an_invalid_bundle_hint_names_the_bundle(iris_bundle: Path, tmp_path: Path) -> None:
    config = iris_bundle / "mlctl.yaml"
    config.write_text(config.read_text().replace("name: iris", "name: Bad_Name"))
    result = run_cli(["model", "package", str(iris_bundle), "--out", str(tmp_path / "out")])
    assert result.status == ExitStatus.INVALID
    line = _one_error_line(result.stderr)
    assert f"mlctl model validate {iris_bundle}" in line
    assert "validate DIR" not in line


# --- -o json prints JSON on stdout for every command that changes something ------------


def test_context_changes_print_json_results(config: Path) -> None:
    made = run_cli(["context", "set", "lab", "nomad_addr=http://10.0.0.1:4646", "-o", "json"])
    assert json.loads(made.stdout) == {
        "context": "lab",
        "current": True,
        "path": str(config),
        "nomad_addr": "http://10.0.0.1:4646",
    }
    used = run_cli(["-o", "json", "context", "use", "lab"])
    assert json.loads(used.stdout)["current"] is True
    deleted = run_cli(["context", "delete", "lab", "--output", "json"])
    assert json.loads(deleted.stdout) == {"context": "lab", "deleted": True, "path": str(config)}
    assert run_cli(["context", "list"]).stdout.startswith("no contexts")


def test_logout_prints_json_too() -> None:
    result = run_cli(["logout", "-o", "json"])
    assert result.status == 0
    assert json.loads(result.stdout) == {"user": None, "revoked": False}


def test_context_list_and_use_work_with_a_broken_value_in_the_file(config: Path) -> None:
    config.write_text(
        yaml.safe_dump({"current-context": "a", "contexts": {"a": {"nomad_addr": "x"}, "b": {}}})
    )
    listed = run_cli(["context", "list", "-o", "json"])
    assert listed.status == 0, listed.stderr
    assert [row["name"] for row in json.loads(listed.stdout)] == ["a", "b"]
    assert run_cli(["context", "use", "b"]).status == 0
