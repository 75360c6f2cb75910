"""The model's request path: preprocess -> predict (batched) -> postprocess.

Each stage is the contract's hook when the bundle defines one, else a default that
fits the model's platform. User code can fail two ways, and the server answers them
differently: a ``ValueError`` from ``preprocess`` is the client's fault (400, its
message is returned); any other exception is a bug in the bundle (500 with an error
id, traceback in the server log).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlctl.bundle.schema import Datatype
from mlctl.serve.loader import LoadedBundle
from mlctl.serve.rows import concat_rows, count_rows, split_rows

NUMPY_DTYPES: dict[Datatype, Any] = {
    Datatype.BOOL: np.bool_,
    Datatype.UINT8: np.uint8,
    Datatype.UINT16: np.uint16,
    Datatype.UINT32: np.uint32,
    Datatype.UINT64: np.uint64,
    Datatype.INT8: np.int8,
    Datatype.INT16: np.int16,
    Datatype.INT32: np.int32,
    Datatype.INT64: np.int64,
    Datatype.FP16: np.float16,
    Datatype.FP32: np.float32,
    Datatype.FP64: np.float64,
    Datatype.BYTES: np.object_,
}


class BadRequest(ValueError):
    """The client sent something the model cannot take; answered with 400."""


class UserCodeError(RuntimeError):
    """The bundle's code (or the model itself) raised; answered with 500 and an error id."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage} failed: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.__cause__ = cause


class ModelRuntime:
    """Runs one loaded bundle's stages; ``run_batch`` is what the batcher calls."""

    def __init__(self, bundle: LoadedBundle) -> None:
        self.bundle = bundle
        self.inputs = bundle.config.signature.inputs
        self.outputs = bundle.config.signature.outputs

    def preprocess(self, payload: Any) -> Any:
        """Client JSON -> model features, through the contract's hook or the default."""
        hook = self.bundle.hooks.preprocess
        if hook is None:
            return self._default_preprocess(payload)
        try:
            return hook(payload)
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        except Exception as exc:
            raise UserCodeError("preprocess", exc) from exc

    def postprocess(self, prediction: Any) -> Any:
        hook = self.bundle.hooks.postprocess
        if hook is None:
            return prediction
        try:
            return hook(prediction)
        except Exception as exc:
            raise UserCodeError("postprocess", exc) from exc

    def predict(self, features: Any) -> Any:
        hook = self.bundle.hooks.predict
        try:
            if hook is not None:
                return hook(self.bundle.model, features)
            return self._default_predict(features)
        except Exception as exc:
            raise UserCodeError("predict", exc) from exc

    def run_batch(self, batch: Sequence[Any]) -> list[Any]:
        """Predict on the joined features, then postprocess each request's rows.

        When a joined batch fails and holds several requests, each is retried alone so
        one poisoned request cannot fail its neighbours.
        """
        try:
            prediction = self.predict(concat_rows(batch))
            pieces = split_rows(prediction, [count_rows(features) for features in batch])
        except Exception as exc:
            if len(batch) == 1:
                return [exc if isinstance(exc, UserCodeError) else UserCodeError("predict", exc)]
            return [result for features in batch for result in self.run_batch([features])]
        results: list[Any] = []
        for piece in pieces:
            try:
                results.append(self.postprocess(piece))
            except UserCodeError as exc:
                results.append(exc)
        return results

    def _default_preprocess(self, payload: Any) -> Any:
        """``{"<input name>": data, ...}`` or, for a one-input model, a bare list of rows."""
        if isinstance(payload, list) and len(self.inputs) == 1:
            payload = {self.inputs[0].name: payload}
        if not isinstance(payload, dict):
            names = ", ".join(spec.name for spec in self.inputs)
            raise BadRequest(f"expected a JSON object with the inputs: {names}")
        arrays: dict[str, Any] = {}
        for spec in self.inputs:
            if spec.name not in payload:
                raise BadRequest(f"missing input {spec.name!r}")
            try:
                arrays[spec.name] = np.asarray(
                    payload[spec.name], dtype=NUMPY_DTYPES[spec.datatype]
                )
            except (TypeError, ValueError) as exc:
                raise BadRequest(
                    f"input {spec.name!r}: not {spec.datatype.value} data: {exc}"
                ) from exc
        return arrays[self.inputs[0].name] if len(arrays) == 1 else arrays

    def _default_predict(self, features: Any) -> Any:
        model = self.bundle.model
        if self.bundle.platform == "onnxruntime":
            if isinstance(features, dict):
                feed = features
            else:
                feed = {model.get_inputs()[0].name: features}
            return tuple(model.run(None, feed))
        return model.predict(features)
