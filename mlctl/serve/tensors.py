"""The Open Inference Protocol v2 (KServe / Triton) tensor wire format.

Requests carry ``inputs`` as ``{name, shape, datatype, data, parameters}``; data is a
flat or nested JSON list in row-major order, or, with the binary tensor data extension
(what ``tritonclient.http`` sends by default), raw little-endian bytes appended after
the JSON header whose length is in the ``Inference-Header-Content-Length`` header.
BYTES elements travel as strings in JSON and as 4-byte-length-prefixed bytes in binary.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mlctl.bundle.schema import Datatype, TensorSpec
from mlctl.serve.runtime import NUMPY_DTYPES, BadRequest

HEADER_LENGTH = "inference-header-content-length"
_LENGTH_PREFIX = struct.Struct("<I")


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary: bool


@dataclass(frozen=True)
class InferRequest:
    """A decoded infer request: input arrays by name, and how to answer."""

    id: str | None
    inputs: dict[str, np.ndarray]
    outputs: list[RequestedOutput] | None  # None: every output of the signature
    binary_output: bool  # the request-level default for outputs (binary_data_output)
    rows: int


def decode_request(
    body: bytes, header_length: str | None, specs: Sequence[TensorSpec]
) -> InferRequest:
    """Parse and check an infer request against the model's input signature."""
    json_part, binary_part = _split_body(body, header_length)
    try:
        request = orjson.loads(json_part)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest("request body must be a JSON object with an 'inputs' list")
    raw_inputs = request.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise BadRequest("'inputs' must be a non-empty list of tensors")
    by_name = {spec.name: spec for spec in specs}
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for raw in raw_inputs:
        array, used = _decode_input(raw, by_name, binary_part, offset)
        offset += used
        arrays[str(raw["name"])] = array
    missing = [name for name in by_name if name not in arrays]
    if missing:
        raise BadRequest(f"missing input(s): {', '.join(missing)}")
    if offset != len(binary_part):
        raise BadRequest(
            f"{len(binary_part) - offset} bytes of binary data were not claimed by any input"
        )
    rows = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(rows.values())) > 1:
        raise BadRequest(f"inputs disagree on the batch size (first dimension): {rows}")
    params = _parameters(request.get("parameters"), "request")
    request_id = request.get("id")
    return InferRequest(
        id=None if request_id is None else str(request_id),
        inputs=arrays,
        outputs=_requested_outputs(request.get("outputs")),
        binary_output=bool(params.get("binary_data_output", False)),
        rows=next(iter(rows.values())),
    )


def _split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    try:
        length = int(header_length)
    except ValueError:
        raise BadRequest("Inference-Header-Content-Length must be an integer") from None
    if not 0 <= length <= len(body):
        raise BadRequest(
            f"Inference-Header-Content-Length {length} exceeds the body ({len(body)} bytes)"
        )
    return body[:length], body[length:]


def _parameters(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} 'parameters' must be a JSON object")
    return raw


def _decode_input(
    raw: Any, specs: Mapping[str, TensorSpec], binary: bytes, offset: int
) -> tuple[np.ndarray, int]:
    """One input tensor as an array of its declared shape; returns the binary bytes used."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise BadRequest("each input must be an object with a 'name'")
    name = raw["name"]
    spec = specs.get(name)
    if spec is None:
        raise BadRequest(f"unknown input {name!r}; this model takes: {', '.join(specs)}")
    shape = raw.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise BadRequest(
            f"input {name!r}: 'shape' must be a non-empty list of non-negative integers"
        )
    if raw.get("datatype") != spec.datatype.value:
        raise BadRequest(
            f"input {name!r}: datatype {raw.get('datatype')!r} given, "
            f"the model takes {spec.datatype.value}"
        )
    _check_shape(name, shape, spec.shape)
    count = math.prod(shape)
    params = _parameters(raw.get("parameters"), f"input {name!r}")
    size = params.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise BadRequest(f"input {name!r}: binary_data_size {size!r} does not fit the body")
        flat = _from_binary(name, binary[offset : offset + size], spec.datatype, count)
        return flat.reshape(shape), size
    if "data" not in raw:
        raise BadRequest(f"input {name!r}: no 'data' and no binary_data_size parameter")
    flat = _from_json(name, raw["data"], spec.datatype)
    if flat.size != count:
        raise BadRequest(f"input {name!r}: shape {shape} needs {count} values, got {flat.size}")
    return flat.reshape(shape), 0


def _check_shape(name: str, shape: list[int], declared: list[int]) -> None:
    if len(shape) != len(declared) or any(
        d != -1 and d != s for s, d in zip(shape, declared, strict=True)
    ):
        raise BadRequest(
            f"input {name!r}: shape {shape} does not match the model's {declared} (-1 = any)"
        )


def _from_json(name: str, data: Any, datatype: Datatype) -> np.ndarray:
    if not isinstance(data, list):
        data = [data]
    try:
        if datatype is Datatype.BYTES:
            flat = np.array(data, dtype=np.object_).reshape(-1)
            if not all(isinstance(v, str) for v in flat):
                raise ValueError("BYTES data must be strings")
            return flat
        if datatype is not Datatype.BOOL and _has_bool_or_str(data):
            raise ValueError(f"{datatype.value} data must be numbers")
        return np.asarray(data, dtype=NUMPY_DTYPES[datatype]).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequest(f"input {name!r}: data is not {datatype.value}: {exc}") from None


def _has_bool_or_str(data: list[Any]) -> bool:
    """Cheap check of the first leaf: numpy would silently turn True or "1" into numbers."""
    leaf: Any = data
    while isinstance(leaf, list) and leaf:
        leaf = leaf[0]
    return isinstance(leaf, (bool, str))


def _from_binary(name: str, raw: bytes, datatype: Datatype, count: int) -> np.ndarray:
    if datatype is Datatype.BYTES:
        items: list[bytes] = []
        position = 0
        while position < len(raw):
            if position + 4 > len(raw):
                raise BadRequest(f"input {name!r}: truncated BYTES element")
            (length,) = _LENGTH_PREFIX.unpack_from(raw, position)
            position += 4
            items.append(raw[position : position + length])
            position += length
        if position != len(raw) or len(items) != count:
            raise BadRequest(
                f"input {name!r}: BYTES data holds {len(items)} elements, shape needs {count}"
            )
        return np.array(items, dtype=np.object_)
    dtype = np.dtype(NUMPY_DTYPES[datatype]).newbyteorder("<")
    if len(raw) != count * dtype.itemsize:
        raise BadRequest(
            f"input {name!r}: {len(raw)} bytes of {datatype.value} cannot fill {count} values"
        )
    return np.frombuffer(raw, dtype=dtype)


def _requested_outputs(raw: Any) -> list[RequestedOutput] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise BadRequest("'outputs' must be a list of {name, parameters}")
    requested = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadRequest("each requested output must be an object with a 'name'")
        params = _parameters(item.get("parameters"), f"output {item['name']!r}")
        requested.append(RequestedOutput(item["name"], bool(params.get("binary_data", False))))
    return requested


def outputs_by_name(result: Any, specs: Sequence[TensorSpec]) -> dict[str, Any]:
    """Map what postprocess returned onto the signature's outputs.

    A dict is taken by output name; a one-output model takes the whole value; a tuple
    or list of arrays (an ONNX session's outputs) is matched to the outputs in order.
    """
    names = [spec.name for spec in specs]
    if isinstance(result, Mapping):
        missing = [n for n in names if n not in result]
        if missing:
            raise ValueError(f"the model returned no value for output(s) {', '.join(missing)}")
        return {n: result[n] for n in names}
    if len(names) == 1:
        return {names[0]: result}
    if isinstance(result, (tuple, list)) and len(result) == len(names):
        return dict(zip(names, result, strict=True))
    raise ValueError(f"cannot match the model's result to the outputs {', '.join(names)}")


def encode_response(
    *,
    model_name: str,
    model_version: str,
    request: InferRequest,
    values: Mapping[str, Any],
    specs: Sequence[TensorSpec],
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary data follows it."""
    by_name = {spec.name: spec for spec in specs}
    if request.outputs is None:
        wanted = [RequestedOutput(spec.name, request.binary_output) for spec in specs]
    else:
        wanted = request.outputs
        unknown = [o.name for o in wanted if o.name not in by_name]
        if unknown:
            raise BadRequest(
                f"unknown output(s) {', '.join(unknown)}; this model has: {', '.join(by_name)}"
            )
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for want in wanted:
        spec = by_name[want.name]
        array = _as_output_array(values[want.name], spec.datatype)
        tensor: dict[str, Any] = {
            "name": spec.name,
            "datatype": spec.datatype.value,
            "shape": list(array.shape),
        }
        if want.binary:
            raw = _to_binary(array, spec.datatype)
            tensor["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            tensor["data"] = array.reshape(-1).tolist()
        outputs.append(tensor)
    response: dict[str, Any] = {
        "model_name": model_name,
        "model_version": model_version,
        "outputs": outputs,
    }
    if request.id is not None:
        response["id"] = request.id
    header = orjson.dumps(response)
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)


def _as_output_array(value: Any, datatype: Datatype) -> np.ndarray:
    if datatype is Datatype.BYTES:
        array = np.asarray(value, dtype=np.object_)
        texts = [_as_text(item) for item in array.reshape(-1)]
        return np.array(texts, dtype=np.object_).reshape(array.shape)
    return np.asarray(value, dtype=NUMPY_DTYPES[datatype])


def _as_text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _to_binary(array: np.ndarray, datatype: Datatype) -> bytes:
    if datatype is Datatype.BYTES:
        parts = []
        for item in array.reshape(-1):
            encoded = str(item).encode("utf-8")
            parts.append(_LENGTH_PREFIX.pack(len(encoded)) + encoded)
        return b"".join(parts)
    return np.ascontiguousarray(
        array, dtype=np.dtype(NUMPY_DTYPES[datatype]).newbyteorder("<")
    ).tobytes()
