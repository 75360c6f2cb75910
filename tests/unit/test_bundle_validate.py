"""validate_bundle reports every problem at once, each as ``file: field: what is wrong``."""

from __future__ import annotations

import fractions
import hashlib
import os
import pickle
from pathlib import Path

import pytest
import yaml

from mlctl.bundle.config import BundleInvalid
from mlctl.bundle.ignore import builtin_rules
from mlctl.bundle.limits import MAX_TOTAL_BYTES
from mlctl.bundle.problems import Severity
from mlctl.bundle.tree import scan_tree
from mlctl.bundle.validate import validate_bundle
from mlctl.errors import NotFound


def _edit_config(bundle: Path, **changes: object) -> None:
    path = bundle / "mlctl.yaml"
    data = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _texts(bundle: Path, severity: Severity | None = None) -> list[str]:
    report = validate_bundle(bundle)
    return [str(p) for p in report.problems if severity is None or p.severity is severity]


@pytest.mark.parametrize("example", ["iris", "iris-onnx"])
def test_shipped_examples_are_clean(repo_root: Path, example: str) -> None:
    report = validate_bundle(repo_root / "examples" / example)
    assert report.problems == ()
    assert report.ok
    assert report.hooks == ("preprocess", "postprocess")
    assert report.require_valid().name == example


def test_every_problem_is_reported_at_once(iris_bundle: Path, tmp_path: Path) -> None:
    _edit_config(
        iris_bundle,
        name="Iris_Model",
        colour="blue",
        requirements=["numpy>=1.26", "--index-url http://evil"],
        model__file="missing.skops",
        signature__inputs=[{"name": "x", "datatype": "FP32", "shape": [0, 4]}],
    )
    (iris_bundle / "contract.py").write_text("def preprocess(payload, extra): ...\n")
    (iris_bundle / "leak").symlink_to(tmp_path)
    os.mkfifo(iris_bundle / "pipe")
    assert _texts(iris_bundle) == [
        "mlctl.yaml: name: must be a DNS label: 1-63 lowercase letters, digits or '-', "
        "starting and ending with a letter or digit (got 'Iris_Model')",
        "mlctl.yaml: requirements[1]: '--index-url http://evil' is not a PEP 508 requirement: "
        "Expected package name at the start of dependency specifier",
        "mlctl.yaml: signature.inputs[0].shape: dimensions are positive integers or -1 (any size)",
        "mlctl.yaml: colour: unknown field (check the spelling against the README)",
        f"leak: symlink: points outside the bundle (to {tmp_path.resolve()}); "
        "copy the file into the bundle instead",
        "pipe: type: is a named pipe (fifo); bundles hold regular files and directories only",
        "contract.py: preprocess: line 1: must accept 1 positional argument (payload) "
        "but takes (payload, extra)",
        "mlctl.yaml: model.file: missing.skops does not exist in the bundle",
    ]
    report = validate_bundle(iris_bundle)
    with pytest.raises(BundleInvalid) as caught:
        report.require_valid()
    assert caught.value.problems == [str(p) for p in report.errors]
    assert caught.value.message.startswith("8 problems, first: mlctl.yaml: name:")


def test_missing_directory_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        validate_bundle(tmp_path / "absent")


def test_missing_config_still_checks_the_rest(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "contract.py").write_text("def predict(model): ...\n")
    texts = _texts(bundle)
    assert texts[0].startswith("mlctl.yaml: (file): missing")
    assert texts[1].startswith("contract.py: predict: line 1: must accept 2 positional")


def test_yaml_syntax_error_names_the_line(iris_bundle: Path) -> None:
    (iris_bundle / "mlctl.yaml").write_text("name: iris\nversion: [1.0\nmodel: {}\n")
    texts = _texts(iris_bundle)
    assert texts[0].startswith("mlctl.yaml: line ")


def test_config_json_is_accepted(iris_bundle: Path) -> None:
    import json

    data = yaml.safe_load((iris_bundle / "mlctl.yaml").read_text())
    (iris_bundle / "mlctl.yaml").unlink()
    (iris_bundle / "config.json").write_text(json.dumps(data))
    report = validate_bundle(iris_bundle)
    assert report.ok and report.config_file == "config.json"


def test_unquoted_version_number(iris_bundle: Path) -> None:
    text = (iris_bundle / "mlctl.yaml").read_text().replace("version: 1.0.0", "version: 1.10")
    (iris_bundle / "mlctl.yaml").write_text(text)
    assert _texts(iris_bundle) == [
        'mlctl.yaml: version: write it in quotes, e.g. version: "1.1" (YAML read a number)'
    ]


def test_pickle_needs_a_pin_and_the_pin_must_match(iris_bundle: Path) -> None:
    (iris_bundle / "model.pkl").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    _edit_config(iris_bundle, model__file="model.pkl", model__format="pickle")
    assert _texts(iris_bundle) == [
        "mlctl.yaml: model: format pickle can run arbitrary code when loaded; pin the file "
        "with model.sha256 (sha256sum of the file) or use skops/onnx"
    ]
    _edit_config(iris_bundle, model__sha256="0" * 64)
    actual = hashlib.sha256((iris_bundle / "model.pkl").read_bytes()).hexdigest()
    assert _texts(iris_bundle) == [
        f"mlctl.yaml: model.sha256: does not match model.pkl (its sha256 is {actual}); "
        "re-pin it only if you replaced the model on purpose"
    ]
    _edit_config(iris_bundle, model__sha256=actual)
    assert _texts(iris_bundle) == []


def test_extension_not_matching_the_format_is_a_warning(iris_bundle: Path) -> None:
    (iris_bundle / "model.skops").rename(iris_bundle / "model.bin")
    _edit_config(iris_bundle, model__file="model.bin")
    report = validate_bundle(iris_bundle)
    assert report.ok
    assert [str(p) for p in report.warnings] == [
        "mlctl.yaml: model.format: is skops but model.bin does not end in .skops; "
        "check model.format"
    ]


def test_model_file_that_is_not_skops(iris_bundle: Path) -> None:
    (iris_bundle / "model.skops").write_bytes(b"not a zip")
    assert _texts(iris_bundle) == [
        "model.skops: format: is not a skops file (skops files are zip archives)"
    ]


def test_untrusted_skops_types_must_be_listed(iris_bundle: Path) -> None:
    import skops.io

    skops.io.dump({"ratio": fractions.Fraction(1, 3)}, iris_bundle / "model.skops")
    assert _texts(iris_bundle) == [
        "mlctl.yaml: model.trusted_types: model.skops holds types skops does not trust: "
        "fractions.Fraction; the server refuses to load them unless you review them and "
        "list them here"
    ]
    _edit_config(iris_bundle, model__trusted_types=["fractions.Fraction"])
    assert _texts(iris_bundle) == []


def test_broken_onnx_file(onnx_bundle: Path) -> None:
    (onnx_bundle / "model.onnx").write_bytes(b"\x08\x07garbage")
    texts = _texts(onnx_bundle)
    assert len(texts) == 1
    assert texts[0].startswith("model.onnx: format: onnxruntime cannot load it: ")


def test_onnx_signature_checked_against_the_model(onnx_bundle: Path) -> None:
    (onnx_bundle / "contract.py").write_text("def postprocess(prediction): ...\n")
    _edit_config(
        onnx_bundle,
        signature__inputs=[
            {"name": "rows", "datatype": "FP32", "shape": [-1, 4]},
        ],
    )
    assert _texts(onnx_bundle, Severity.WARNING) == [
        "mlctl.yaml: signature.inputs[0].name: 'rows' is not an input of model.onnx "
        "(it has: features)"
    ]
    _edit_config(
        onnx_bundle, signature__inputs=[{"name": "features", "datatype": "FP64", "shape": [-1, 4]}]
    )
    assert _texts(onnx_bundle, Severity.WARNING) == [
        "mlctl.yaml: signature.inputs[0].datatype: is FP64 but model.onnx expects FP32 "
        "for 'features'"
    ]


def test_mlctlignore_problems(iris_bundle: Path) -> None:
    (iris_bundle / ".mlctlignore").write_text("# clutter\n!keep.me\n*.skops\ncontract.*\n/\n")
    assert _texts(iris_bundle) == [
        ".mlctlignore: line 2: '!keep.me': negation (!) is not supported",
        ".mlctlignore: line 5: '/' would exclude the whole bundle",
        ".mlctlignore: line 4: 'contract.*' leaves out contract.py, which the server needs",
        ".mlctlignore: line 3: '*.skops' leaves out the model file model.skops",
    ]


def test_serving_sanity_warnings(iris_bundle: Path) -> None:
    _edit_config(
        iris_bundle,
        signature__inputs=[{"name": "features", "datatype": "FP32", "shape": [1, 4]}],
        resources__gpu={"count": 1},
    )
    report = validate_bundle(iris_bundle)
    assert report.ok
    assert [str(p) for p in report.warnings] == [
        "mlctl.yaml: signature.inputs[0].shape: the first (batch) dimension is fixed at 1 but "
        "serving.max_batch_size is 32, and batching joins requests along it; use -1 or set "
        "serving.max_batch_size: 1",
        "mlctl.yaml: resources.gpu: skops (scikit-learn) models run on the CPU, so the GPU "
        "would sit idle; remove it",
    ]


def test_duplicate_tensor_names(iris_bundle: Path) -> None:
    spec = {"name": "label", "datatype": "BYTES", "shape": [-1]}
    _edit_config(iris_bundle, signature__outputs=[spec, spec])
    assert _texts(iris_bundle) == [
        "mlctl.yaml: signature: outputs names must be unique; repeated: label"
    ]


def test_size_and_entry_limits(iris_bundle: Path) -> None:
    entries = sum(1 for _ in iris_bundle.rglob("*"))
    tree = scan_tree(iris_bundle, builtin_rules(), max_total_bytes=1000, max_members=2)
    texts = [str(p) for p in tree.problems]
    assert entries > 2
    assert texts[0].startswith(
        f"(bundle): entries: {entries} files and directories exceed the limit of 2"
    )
    assert texts[1].startswith("(bundle): size: ")
    assert "exceed the limit of 1000 bytes" in texts[1]
    assert scan_tree(iris_bundle, builtin_rules()).problems == ()
    assert MAX_TOTAL_BYTES >= 1024**3  # real models must fit


def test_unsafe_file_names(iris_bundle: Path) -> None:
    (iris_bundle / "bad\nname.txt").write_text("x")
    (iris_bundle / "win\\path.txt").write_text("x")
    assert _texts(iris_bundle) == [
        "bad\\x0aname.txt: name: control character in path; rename it",
        "win\\path.txt: name: backslash in path (a separator on Windows); rename it",
    ]
