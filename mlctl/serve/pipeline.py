"""The request pipeline: one place where every model route's body becomes its answer.

A :class:`Job` is what the event loop hands over (the route's kind, the raw body and
the one header that matters); a :class:`Reply` is what comes back (status, bytes,
headers, and the postprocessed result for anyone observing predictions). Everything
in between runs on the model thread, batched: parsing and checking the body, the
contract's ``preprocess``, the joined ``predict``, ``postprocess`` and encoding the
answer. So user code, and the CPU cost of large bodies, never stall the event loop.

Adding a route kind means a ``_front`` (body -> features, or a finished reply) and a
``_back`` (prediction -> reply); authentication or notification rules hook in around
:meth:`Pipeline.run_batch` or observe replies, without touching the routes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import orjson

from mlctl.bundle.schema import BundleConfig
from mlctl.serve.rows import count_rows
from mlctl.serve.runtime import BadRequest, ModelRuntime, UserCodeError
from mlctl.serve.tensors import (
    InferRequest,
    ResponseTooLarge,
    decode_request,
    encode_response,
    outputs_by_name,
)

JSON_TYPE = "application/json"


class Kind(Enum):
    """What a route asks of the model."""

    PREDICT = "predict"  # JSON -> preprocess -> predict -> postprocess
    PREPROCESS = "preprocess"  # JSON -> preprocess
    POSTPROCESS = "postprocess"  # {"predictions": ...} -> postprocess
    INFER = "infer"  # OIP v2 tensors -> predict -> postprocess -> OIP v2 tensors


@dataclass(slots=True)
class Job:
    kind: Kind
    body: bytes
    header_length: str | None = None  # Inference-Header-Content-Length (binary tensors)


@dataclass(slots=True)
class Reply:
    body: bytes
    status: int = 200
    media_type: str = JSON_TYPE
    headers: dict[str, str] | None = None
    result: Any = None  #: the postprocessed answer, for observers of predictions


@dataclass(slots=True)
class _Staged:
    """A job between its front half and the model: its features and decoded request."""

    index: int
    job: Job
    features: Any
    request: InferRequest | None = None


class Pipeline:
    """Runs a batch of jobs: fronts, one joined model path, backs; one result per job."""

    def __init__(
        self, runtime: ModelRuntime, config: BundleConfig, *, max_response_bytes: int
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.max_response_bytes = max_response_bytes
        fronts: dict[Kind, Callable[[Job], Any]] = {
            Kind.PREDICT: self._front_predict,
            Kind.PREPROCESS: self._front_preprocess,
            Kind.POSTPROCESS: self._front_postprocess,
            Kind.INFER: self._front_infer,
        }
        self._fronts = fronts

    def run_batch(self, jobs: Sequence[Job]) -> list[Reply | Exception]:
        """Called on the model thread by the batcher."""
        replies: list[Reply | Exception | None] = [None] * len(jobs)
        staged: list[_Staged] = []
        for index, job in enumerate(jobs):
            try:
                front = self._fronts[job.kind](job)
            except Exception as exc:
                replies[index] = exc
                continue
            if isinstance(front, Reply):
                replies[index] = front
            else:
                front.index = index
                staged.append(front)
        if staged:
            predictions = self.runtime.run_batch([item.features for item in staged])
            for item, prediction in zip(staged, predictions, strict=True):
                replies[item.index] = self._back(item, prediction)
        return [reply if reply is not None else RuntimeError("no reply") for reply in replies]

    # --- fronts: body -> features (or a finished reply) ------------------------------------
    def _front_predict(self, job: Job) -> _Staged:
        features = checked_features(self.runtime.preprocess(_json(job.body)))
        return _Staged(0, job, features)

    def _front_preprocess(self, job: Job) -> Reply:
        features = checked_features(self.runtime.preprocess(_json(job.body)))
        return self._json_reply({"features": features}, result=features)

    def _front_postprocess(self, job: Job) -> Reply:
        payload = _json(job.body)
        if not isinstance(payload, dict) or "predictions" not in payload:
            raise BadRequest('expected a JSON object {"predictions": [...]}')
        try:
            result = self.runtime.postprocess(payload["predictions"])
        except UserCodeError as exc:
            raise _client_fault(exc) from exc
        return self._json_reply({"predictions": result}, result=result)

    def _front_infer(self, job: Job) -> _Staged:
        signature = self.config.signature
        request = decode_request(job.body, job.header_length, signature.inputs, signature.outputs)
        arrays = request.inputs
        features = next(iter(arrays.values())) if len(arrays) == 1 else arrays
        return _Staged(0, job, features, request)

    # --- backs: prediction -> reply ----------------------------------------------------------
    def _back(self, item: _Staged, prediction: Any) -> Reply | Exception:
        if isinstance(prediction, Exception):
            return prediction
        try:
            if item.request is None:
                return self._json_reply({"predictions": prediction}, result=prediction)
            return self._infer_reply(item.request, prediction)
        except (BadRequest, UserCodeError) as exc:
            return exc
        except ValueError as exc:  # the model's answer does not fit its signature
            return UserCodeError("postprocess", exc)

    def _infer_reply(self, request: InferRequest, prediction: Any) -> Reply:
        config = self.config
        body, header_length = encode_response(
            model_name=config.name,
            model_version=config.version,
            request=request,
            values=outputs_by_name(prediction, config.signature.outputs),
            specs=config.signature.outputs,
            max_bytes=self.max_response_bytes,
        )
        if header_length is None:
            return Reply(body, result=prediction)
        return Reply(
            body,
            media_type="application/octet-stream",
            headers={"inference-header-content-length": str(header_length)},
            result=prediction,
        )

    def _json_reply(self, data: Mapping[str, Any], *, result: Any) -> Reply:
        try:
            body = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as exc:
            raise UserCodeError("postprocess", exc) from exc
        if len(body) > self.max_response_bytes:
            raise ResponseTooLarge(
                f"the response would be {len(body)} bytes, over the server's limit of "
                f"{self.max_response_bytes}; send fewer rows per request"
            )
        return Reply(body, result=result)


def _client_fault(exc: UserCodeError) -> Exception:
    """On ``/postprocess`` the predictions come from the client, not the model: a hook that
    cannot take them (ValueError, TypeError, a missing key or index) refuses the client's
    input, like ``preprocess`` does; anything else is still a bundle bug."""
    cause = exc.__cause__
    if isinstance(cause, ValueError):
        return BadRequest(f"postprocess refused these predictions: {cause}")
    if isinstance(cause, (TypeError, LookupError)):
        return BadRequest(f"postprocess cannot take these predictions ({type(cause).__name__})")
    return exc


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None


def checked_features(features: Any) -> Any:
    """Refuse what no model should be given: no rows at all, or NaN/infinity in floats.

    Applies to what ``preprocess`` produced (the contract's or the default), so every
    route holds the same line as OIP inputs do.
    """
    if count_rows(features) == 0:
        raise BadRequest("empty batch: send at least one row")
    arrays = features.values() if isinstance(features, Mapping) else [features]
    for array in arrays:
        if isinstance(array, np.ndarray) and array.dtype.kind in "fc" and not _finite(array):
            raise BadRequest("the features hold NaN or infinity; send finite numbers only")
    return features


def _finite(array: np.ndarray) -> bool:
    """Every value finite. One float64 sum first (NaN and infinity survive a sum, and
    float32 values cannot overflow it); the exact test only when the sum is not finite."""
    if array.dtype.kind == "f" and math.isfinite(float(array.sum(dtype=np.float64))):
        return True
    return bool(np.isfinite(array).all())
