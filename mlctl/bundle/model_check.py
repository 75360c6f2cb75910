"""Check a bundle's model file: present, packaged, matching its pin, of the declared format.

Nothing here unpickles: pickle/joblib files are only hashed. skops files are inspected
with ``skops.io.get_untrusted_types`` (which reads the schema, not the objects), and ONNX
files are opened with onnxruntime, which executes no Python.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlctl.bundle.names import name_problem
from mlctl.bundle.problems import Problem, warning
from mlctl.bundle.schema import BundleConfig, Datatype, ModelFormat, TensorSpec
from mlctl.bundle.tree import BundleTree, EntryKind
from mlctl.digest import sha256_file
from mlctl.extras import extra_for, install_hint

#: File name endings each format usually has; anything else earns a warning.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    ModelFormat.SKOPS: (".skops",),
    ModelFormat.ONNX: (".onnx",),
    ModelFormat.JOBLIB: (".joblib", ".pkl", ".pickle", ".gz", ".z", ".xz", ".bz2", ".lzma"),
    ModelFormat.PICKLE: (".pkl", ".pickle"),
}

#: onnxruntime's element types -> Open Inference Protocol datatypes.
ONNX_DATATYPES = {
    "tensor(bool)": Datatype.BOOL,
    "tensor(uint8)": Datatype.UINT8,
    "tensor(uint16)": Datatype.UINT16,
    "tensor(uint32)": Datatype.UINT32,
    "tensor(uint64)": Datatype.UINT64,
    "tensor(int8)": Datatype.INT8,
    "tensor(int16)": Datatype.INT16,
    "tensor(int32)": Datatype.INT32,
    "tensor(int64)": Datatype.INT64,
    "tensor(float16)": Datatype.FP16,
    "tensor(float)": Datatype.FP32,
    "tensor(double)": Datatype.FP64,
    "tensor(string)": Datatype.BYTES,
}


@dataclass(frozen=True)
class ModelRef:
    """What the config says about the model, from a valid config or a broken one's raw data."""

    file: str
    format: str | None
    sha256: str | None
    trusted_types: tuple[str, ...] = ()
    inputs: tuple[TensorSpec, ...] = field(default=())

    @classmethod
    def from_config(cls, config: BundleConfig) -> ModelRef:
        model = config.model
        return cls(
            model.file,
            model.format.value,
            model.sha256,
            tuple(model.trusted_types),
            tuple(config.signature.inputs),
        )

    @classmethod
    def from_raw(cls, raw: Any) -> ModelRef | None:
        """Best effort on a config that failed the schema, so file checks still run."""
        model = raw.get("model") if isinstance(raw, dict) else None
        if not isinstance(model, dict) or not isinstance(model.get("file"), str):
            return None
        fmt = model.get("format")
        sha = model.get("sha256")
        return cls(
            model["file"],
            fmt if fmt in set(ModelFormat) else None,
            sha if isinstance(sha, str) else None,
        )


def check_model(
    ref: ModelRef, tree: BundleTree, config_file: str, hooks: tuple[str, ...]
) -> list[Problem]:
    """Every problem with the model file; the deep format checks run only on a sound file."""
    if name_problem(ref.file) is not None:
        return []  # the schema already reports an unsafe model.file
    pattern = tree.exclusion_of(ref.file)
    if pattern is not None:
        line = f"line {pattern.line}" if pattern.line else "built-in excludes"
        return [
            Problem(
                ".mlctlignore" if pattern.line else config_file,
                line,
                f"{pattern.glob!r} leaves out the model file {ref.file}",
            )
        ]
    path = tree.root / ref.file
    entry = next((e for e in tree.entries if e.path.as_posix() == ref.file), None)
    if entry is None or entry.kind is not EntryKind.FILE:
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            return []  # refused by the walk (symlink out, device...): already reported
        what = "is a directory, not a file" if path.is_dir() else "does not exist in the bundle"
        return [Problem(config_file, "model.file", f"{ref.file} {what}")]
    problems = _extension(ref, config_file)
    if ref.sha256 is not None:
        actual = sha256_file(entry.source)
        if actual != ref.sha256.lower():
            problems.append(
                Problem(
                    config_file,
                    "model.sha256",
                    f"does not match {ref.file} (its sha256 is "
                    f"{actual}); re-pin it only if you replaced the model on purpose",
                )
            )
    try:
        if ref.format == ModelFormat.SKOPS:
            problems += _skops(entry.source, ref, config_file)
        elif ref.format == ModelFormat.ONNX:
            problems += _onnx(
                entry.source,
                ref,
                config_file,
                custom="predict" in hooks or "load" in hooks or "preprocess" in hooks,
            )
    except ImportError as error:
        problems.append(_not_inspected(ref, config_file, error))
    return problems


def _not_inspected(ref: ModelRef, config_file: str, error: ImportError) -> Problem:
    """A client install without the serve extra cannot open the model: say so, go on.

    The model server checks the same things when it loads the file, so packaging and
    deploying from a lean client stay possible.
    """
    module = (error.name or "").partition(".")[0]
    if extra_for(module) != "serve":
        raise error
    return warning(
        config_file,
        "model.file",
        f"{ref.file} not inspected: {module} is not installed here "
        f"({install_hint('serve')} to check it now; the server checks it when loading)",
    )


def _extension(ref: ModelRef, config_file: str) -> list[Problem]:
    if ref.format is None:
        return []
    if ref.file.lower().endswith(EXTENSIONS[ref.format]):
        return []
    return [
        warning(
            config_file,
            "model.format",
            f"is {ref.format} but {ref.file} does not end "
            f"in {' or '.join(EXTENSIONS[ref.format][:2])}; check model.format",
        )
    ]


def _skops(path: Path, ref: ModelRef, config_file: str) -> list[Problem]:
    if not zipfile.is_zipfile(path):
        return [Problem(ref.file, "format", "is not a skops file (skops files are zip archives)")]
    import skops.io

    try:
        untrusted = set(skops.io.get_untrusted_types(file=path))
    except Exception as exc:  # skops raises many types on a damaged file
        return [Problem(ref.file, "format", f"skops cannot read it: {exc}")]
    refused = sorted(untrusted - set(ref.trusted_types) - _known_safe_skops_types())
    if not refused:
        return []
    return [
        Problem(
            config_file,
            "model.trusted_types",
            f"{ref.file} holds types skops does not "
            f"trust: {', '.join(refused)}; the server refuses to load them unless you "
            "review them and list them here",
        )
    ]


def _known_safe_skops_types() -> frozenset[str]:
    """The server's own allow-list, so validate and serve agree on what loads."""
    from mlctl.serve.loader import KNOWN_SAFE_TYPES

    return KNOWN_SAFE_TYPES


def _onnx(path: Path, ref: ModelRef, config_file: str, *, custom: bool) -> list[Problem]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: warnings would clutter validate's output
    try:
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [Problem(ref.file, "format", f"onnxruntime cannot load it: {first}")]
    if custom:
        return []  # the contract feeds the session itself; names need not match
    model_inputs = {arg.name: arg.type for arg in session.get_inputs()}
    problems: list[Problem] = []
    for index, spec in enumerate(ref.inputs):
        field_name = f"signature.inputs[{index}]"
        if spec.name not in model_inputs:
            problems.append(
                warning(
                    config_file,
                    f"{field_name}.name",
                    f"{spec.name!r} is not an "
                    f"input of {ref.file} (it has: {', '.join(model_inputs)})",
                )
            )
            continue
        expected = ONNX_DATATYPES.get(model_inputs[spec.name])
        if expected is not None and expected is not spec.datatype:
            problems.append(
                warning(
                    config_file,
                    f"{field_name}.datatype",
                    f"is "
                    f"{spec.datatype.value} but {ref.file} expects "
                    f"{expected.value} for {spec.name!r}",
                )
            )
    return problems
