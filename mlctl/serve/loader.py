"""Load a bundle's model safely, in the format its ``mlctl.yaml`` declares.

- skops: every type in the file that skops does not trust by default must be either a
  known-safe scikit-learn internal (listed below) or named in ``model.trusted_types``;
  otherwise the load is refused before anything is constructed.
- onnx: an onnxruntime session (CUDA first when the CUDA provider is available).
- joblib/pickle: unpickling runs arbitrary code, so the file's sha256 must match the
  hash pinned in ``mlctl.yaml`` first; otherwise the load is refused.

A contract's own ``load(model_dir)`` hook replaces all of this: it is the author's code.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlctl.bundle.config import read_config
from mlctl.bundle.schema import BundleConfig, ModelFormat
from mlctl.errors import InvalidInput, NotFound, UnsafeInput
from mlctl.serve.contract import Hooks, import_contract

# scikit-learn's compiled helper types that skops (as of 0.16) does not trust by default,
# though they only hold arrays: trees, neighbour indexes, distance metrics, optimizers.
KNOWN_SAFE_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    }
)


class ModelLoadError(InvalidInput):
    """The model file exists and is allowed, but reading it failed."""


@dataclass(frozen=True)
class LoadedBundle:
    """A bundle ready to serve: its config, the model object and the contract's hooks."""

    directory: Path
    config: BundleConfig
    model: Any
    hooks: Hooks
    platform: str
    load_seconds: float


def load_bundle(bundle_dir: Path) -> LoadedBundle:
    """Read the config, import the contract and load the model (contract ``load`` first)."""
    started = time.perf_counter()
    config = read_config(bundle_dir)
    hooks = import_contract(bundle_dir)
    if hooks.load is not None:
        model, platform = hooks.load(bundle_dir), "custom"
    else:
        model, platform = load_model_file(bundle_dir, config)
    return LoadedBundle(
        directory=bundle_dir,
        config=config,
        model=model,
        hooks=hooks,
        platform=platform,
        load_seconds=time.perf_counter() - started,
    )


def load_model_file(bundle_dir: Path, config: BundleConfig) -> tuple[Any, str]:
    """The model object and its platform name (as OIP model metadata reports it)."""
    path = bundle_dir / config.model.file
    if not path.is_file():
        raise NotFound(f"{path}: model file not found (mlctl.yaml: model.file)")
    fmt = config.model.format
    if fmt is ModelFormat.SKOPS:
        return load_skops(path, config.model.trusted_types), "sklearn"
    if fmt is ModelFormat.ONNX:
        return load_onnx(path), "onnxruntime"
    # Read once, hash those bytes, unpickle those bytes: the file cannot change in between.
    data = path.read_bytes()
    verify_sha256(path, data, config.model.sha256)
    return load_pickled(path, data, fmt), "sklearn"


def load_skops(path: Path, trusted_types: list[str]) -> Any:
    """Load a skops file, refusing types that are neither known-safe nor trusted by config."""
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelLoadError(f"{path}: not a readable skops file: {exc}") from exc
    allowed = KNOWN_SAFE_TYPES | set(trusted_types)
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise UnsafeInput(
            f"{path}: refusing to load types skops does not trust: {', '.join(refused)}",
            hint="if you trust this file, list them under model.trusted_types in mlctl.yaml",
        )
    try:
        return skops.io.load(path, trusted=sorted(set(untrusted)))
    except Exception as exc:
        raise ModelLoadError(f"{path}: loading failed: {type(exc).__name__}: {exc}") from exc


def load_onnx(path: Path) -> Any:
    """An onnxruntime session on the best available provider (CUDA, else CPU)."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    try:
        return onnxruntime.InferenceSession(str(path), providers=providers)
    except Exception as exc:
        raise ModelLoadError(f"{path}: not a loadable ONNX model: {exc}") from exc


def verify_sha256(path: Path, data: bytes, pinned: str | None) -> None:
    """Refuse a pickle-based file unless its bytes are exactly the ones pinned in config."""
    if not pinned:
        raise UnsafeInput(
            f"{path}: joblib/pickle files run arbitrary code when loaded and no sha256 is pinned",
            hint="set model.sha256 in mlctl.yaml to the file's sha256sum, or use skops/onnx",
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != pinned.lower():
        raise UnsafeInput(
            f"{path}: sha256 is {actual} but mlctl.yaml pins {pinned}; refusing to unpickle it",
            hint="the file changed since it was pinned: re-pin it only if you trust the new file",
        )


def load_pickled(path: Path, data: bytes, fmt: ModelFormat) -> Any:
    """Unpickle bytes whose hash was verified by :func:`verify_sha256`."""
    try:
        if fmt is ModelFormat.JOBLIB:
            import joblib

            return joblib.load(io.BytesIO(data))
        import pickle

        return pickle.loads(data)  # noqa: S301 - the sha256 pin was verified first
    except Exception as exc:
        raise ModelLoadError(f"{path}: loading failed: {type(exc).__name__}: {exc}") from exc
