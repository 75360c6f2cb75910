"""`mlctl model init/validate/package` through the real entry point."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from mlctl.errors import ExitStatus
from tests.bundle_fixtures import Member, write_tar
from tests.cli_runner import run_cli


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("mlctl: error: ")
    return lines[0]


def test_help_has_examples() -> None:
    for args in (["model", "--help"], ["model", "validate", "--help"], ["model", "init", "--help"]):
        result = run_cli(args)
        assert result.status == 0
        assert "Examples:" in result.stdout


def test_validate_a_good_bundle(iris_bundle: Path) -> None:
    result = run_cli(["model", "validate", str(iris_bundle)])
    assert result.status == ExitStatus.OK
    assert result.stdout == ""
    assert f"{iris_bundle}: valid: iris 1.0.0, skops model model.skops" in result.stderr


def test_validate_lists_every_problem_and_exits_invalid(iris_bundle: Path) -> None:
    (iris_bundle / "model.skops").unlink()
    (iris_bundle / "contract.py").write_text("def predict(model):\n    ...\n")
    config = iris_bundle / "mlctl.yaml"
    config.write_text(config.read_text().replace("name: iris", "name: Iris"))
    result = run_cli(["model", "validate", str(iris_bundle)])
    assert result.status == ExitStatus.INVALID
    assert result.stdout.splitlines() == [
        "mlctl.yaml: name: must be a DNS label: 1-63 lowercase letters, digits or '-', "
        "starting and ending with a letter or digit (got 'Iris')",
        "contract.py: predict: line 1: must accept 2 positional arguments (model, features) "
        "but takes (model)",
        "mlctl.yaml: model.file: model.skops does not exist in the bundle",
    ]
    assert _one_error_line(result.stderr) == (
        f"mlctl: error: {iris_bundle}: 3 errors (listed above)"
    )


def test_validate_json_is_one_list(iris_bundle: Path) -> None:
    (iris_bundle / "model.skops").rename(iris_bundle / "model.zip")
    config = iris_bundle / "mlctl.yaml"
    config.write_text(config.read_text().replace("replicas: 1", "replicas: -1"))
    result = run_cli(["-o", "json", "model", "validate", str(iris_bundle)])
    assert result.status == ExitStatus.INVALID
    problems = json.loads(result.stdout)
    assert [(p["severity"], p["file"], p["field"]) for p in problems] == [
        ("error", "mlctl.yaml", "replicas"),
        ("error", "mlctl.yaml", "model.file"),
    ]
    assert problems[1]["text"] == "mlctl.yaml: model.file: model.skops does not exist in the bundle"


def test_validate_json_on_success_lists_warnings(iris_bundle: Path) -> None:
    (iris_bundle / "contract.py").write_text("def pre_process(payload): ...\n")
    result = run_cli(["--output", "json", "model", "validate", str(iris_bundle)])
    assert result.status == ExitStatus.OK
    assert [p["severity"] for p in json.loads(result.stdout)] == ["warning"]


def test_validate_missing_directory(tmp_path: Path) -> None:
    result = run_cli(["model", "validate", str(tmp_path / "nope")])
    assert result.status == ExitStatus.NOT_FOUND
    assert "no such bundle directory" in _one_error_line(result.stderr)


def test_package_then_validate_the_archive(iris_bundle: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    packaged = run_cli(["-o", "json", "model", "package", str(iris_bundle), "--out", str(dist)])
    assert packaged.status == ExitStatus.OK, packaged.stderr
    info = json.loads(packaged.stdout)
    archive = Path(info["path"])
    assert archive == dist / "iris-1.0.0.tar.gz"
    assert info["size"] == archive.stat().st_size
    assert len(info["sha256"]) == 64
    assert (info["name"], info["version"]) == ("iris", "1.0.0")
    checked = run_cli(["model", "validate", str(archive)])
    assert checked.status == ExitStatus.OK, checked.stderr
    assert "valid: iris 1.0.0" in checked.stderr


def test_package_table_output(iris_bundle: Path, tmp_path: Path) -> None:
    result = run_cli(["model", "package", str(iris_bundle), "--out", str(tmp_path / "d")])
    assert result.status == ExitStatus.OK
    keys = [line.split()[0] for line in result.stdout.splitlines()]
    assert keys == ["path", "sha256", "size", "name", "version"]


def test_package_refuses_an_invalid_bundle(iris_bundle: Path, tmp_path: Path) -> None:
    (iris_bundle / "model.skops").unlink()
    dist = tmp_path / "dist"
    result = run_cli(["model", "package", str(iris_bundle), "--out", str(dist)])
    assert result.status == ExitStatus.INVALID
    line = _one_error_line(result.stderr)
    assert "mlctl.yaml: model.file: model.skops does not exist in the bundle" in line
    assert "mlctl model validate" in line
    assert not dist.exists()


def test_validate_refuses_a_hostile_archive(tmp_path: Path) -> None:
    archive = write_tar(
        tmp_path / "evil.tar.gz",
        [Member("mlctl.yaml", b"name: x\n"), Member("x", type=tarfile.SYMTYPE, linkname="/")],
    )
    result = run_cli(["model", "validate", str(archive)])
    assert result.status == ExitStatus.UNSAFE
    assert "member 'x': a symbolic link" in _one_error_line(result.stderr)


def test_init_creates_a_bundle_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "models" / "churn"
    result = run_cli(["model", "init", "churn", "--dir", str(target), "--format", "onnx"])
    assert result.status == ExitStatus.OK, result.stderr
    assert f"created bundle churn in {target}" in result.stderr
    assert run_cli(["model", "validate", str(target)]).status == ExitStatus.OK


def test_init_defaults_to_a_directory_named_after_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(["-o", "json", "model", "init", "churn"])
    assert result.status == ExitStatus.OK
    assert json.loads(result.stdout)["path"] == str(tmp_path / "churn")
    again = run_cli(["model", "init", "churn"])
    assert again.status == ExitStatus.CONFLICT
    assert "already exists and is not empty" in _one_error_line(again.stderr)


def test_init_rejects_a_bad_name(tmp_path: Path) -> None:
    result = run_cli(["model", "init", "My_Model", "--dir", str(tmp_path / "m")])
    assert result.status == ExitStatus.INVALID
    assert "'My_Model': not a valid model name" in _one_error_line(result.stderr)
    assert not (tmp_path / "m").exists()
