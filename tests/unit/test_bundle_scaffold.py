"""`model init`'s scaffold: a bundle that validates, loads and predicts as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlctl.bundle.scaffold import scaffold_bundle
from mlctl.bundle.validate import validate_bundle
from mlctl.errors import Conflict, ExitStatus, InvalidInput
from mlctl.serve.loader import load_bundle
from mlctl.serve.runtime import ModelRuntime

SETOSA = {"features": [[5.1, 3.5, 1.4, 0.2]]}


@pytest.mark.parametrize(("fmt", "model_file"), [("skops", "model.skops"), ("onnx", "model.onnx")])
def test_scaffold_validates_and_predicts(tmp_path: Path, fmt: str, model_file: str) -> None:
    created = scaffold_bundle("churn-model", tmp_path / "churn", fmt)
    assert created.path == tmp_path / "churn"
    assert set(created.files) >= {
        "mlctl.yaml",
        "contract.py",
        model_file,
        "README.md",
        ".mlctlignore",
        "train.py",
    }
    config = yaml.safe_load((created.path / "mlctl.yaml").read_text())
    assert (config["name"], config["version"]) == ("churn-model", "0.1.0")
    assert config["model"]["format"] == fmt
    assert (created.path / "mlctl.yaml").read_text().startswith("# Bundle config of churn-model")
    assert "# churn-model" in (created.path / "README.md").read_text()
    report = validate_bundle(created.path)
    assert report.problems == ()
    runtime = ModelRuntime(load_bundle(created.path))
    prediction = runtime.run_batch([runtime.preprocess(SETOSA)])[0]
    labels = prediction["label"] if isinstance(prediction, dict) else prediction
    assert list(labels) == ["setosa"]


@pytest.mark.parametrize("name", ["Churn", "churn_model", "-churn", "churn-", "", "a" * 64])
def test_name_must_be_a_dns_label(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        scaffold_bundle(name, tmp_path / "x")
    assert caught.value.status is ExitStatus.INVALID
    assert "DNS label" in caught.value.one_line()
    assert not (tmp_path / "x").exists()


def test_existing_non_empty_directory_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(Conflict):
        scaffold_bundle("churn", target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_empty_directory_is_used(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    assert scaffold_bundle("churn", target).path == target
    assert (target / "mlctl.yaml").is_file()


def test_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlctl.bundle import scaffold

    def broken(_root: Path, _template: Path) -> tuple[str, ...]:
        raise RuntimeError("template broken")

    monkeypatch.setattr(scaffold, "_verified", broken)
    with pytest.raises(RuntimeError):
        scaffold_bundle("churn", tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # only conftest's fake HOME


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown format"):
        scaffold_bundle("churn", tmp_path / "x", "tensorflow")
