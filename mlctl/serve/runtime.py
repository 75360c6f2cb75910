"""The model's request path: preprocess -> predict (batched) -> postprocess.

Each stage is the contract's hook when the bundle defines one, else a default that
fits the model's platform. User code can fail two ways, and the server answers them
differently: a ``ValueError`` from ``preprocess`` is the client's fault (400, its
message is returned); any other exception is a bug in the bundle (500 with an error
id, traceback in the server log).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mlctl.serve.loader import LoadedBundle
from mlctl.serve.rows import concat_rows, count_rows, split_rows
from mlctl.serve.typed import NUMPY_DTYPES, BadRequest, json_array

__all__ = ["NUMPY_DTYPES", "BadRequest", "ModelRuntime", "UserCodeError"]


class UserCodeError(RuntimeError):
    """The bundle's code (or the model itself) raised; answered with 500 and an error id."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage} failed: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.__cause__ = cause


class ModelRuntime:
    """Runs one loaded bundle's stages; ``run_batch`` is the model path the batcher uses.

    ``max_batch_rows`` bounds the rows joined into one ``predict`` call (memory, GPU
    memory, latency); a single request larger than it still runs, alone.
    """

    def __init__(
        self,
        bundle: LoadedBundle,
        *,
        max_batch_rows: int = 1 << 62,
        on_model_call: Callable[[int], None] | None = None,
    ) -> None:
        self.bundle = bundle
        self.inputs = bundle.config.signature.inputs
        self.outputs = bundle.config.signature.outputs
        self.max_batch_rows = max_batch_rows
        self.on_model_call = on_model_call

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
        """Predict on joined features, then postprocess each request's rows.

        Requests are joined in arrival order into model calls of at most
        ``max_batch_rows`` rows. The model must answer one row per input row, for a
        lone request too: a wrong count is a bundle bug, never passed on as an answer.
        """
        sizes = [count_rows(features) for features in batch]
        results: list[Any] = []
        for start, end in _groups(sizes, self.max_batch_rows):
            results.extend(self._run_group(batch[start:end], sizes[start:end]))
        return results

    def _run_group(self, group: Sequence[Any], sizes: list[int]) -> list[Any]:
        """One model call for ``group``; when it fails and holds several requests, each is
        retried alone so one poisoned request cannot fail its neighbours."""
        try:
            if self.on_model_call is not None:
                self.on_model_call(sum(sizes))
            prediction = self.predict(concat_rows(group))
            pieces = split_rows(prediction, sizes)
        except Exception as exc:
            if len(group) == 1:
                return [exc if isinstance(exc, UserCodeError) else UserCodeError("predict", exc)]
            return [
                result
                for one, size in zip(group, sizes, strict=True)
                for result in self._run_group([one], [size])
            ]
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
            arrays[spec.name] = json_array(spec.name, payload[spec.name], spec.datatype)
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


def _groups(sizes: Sequence[int], max_rows: int) -> list[tuple[int, int]]:
    """``[start, end)`` runs of consecutive requests whose rows fit in ``max_rows``."""
    groups: list[tuple[int, int]] = []
    start, rows = 0, 0
    for index, size in enumerate(sizes):
        if index > start and rows + size > max_rows:
            groups.append((start, index))
            start, rows = index, 0
        rows += size
    if start < len(sizes):
        groups.append((start, len(sizes)))
    return groups
