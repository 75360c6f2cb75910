"""The Open Inference Protocol v2 (KServe / Triton) tensor wire format.

Requests carry ``inputs`` as ``{name, shape, datatype, data, parameters}``; data is a
flat or nested JSON list in row-major order, or, with the binary tensor data extension
(what ``tritonclient.http`` sends by default), raw little-endian bytes appended after
the JSON header whose length is in the ``Inference-Header-Content-Length`` header.
BYTES elements travel as strings in JSON and as 4-byte-length-prefixed bytes in binary.

Decoding trusts nothing: every element's JSON type is checked (numpy would quietly
turn ``true``, ``"1"`` or ``null`` into numbers), floats must be finite (``null`` and
``1e39`` would become NaN and infinity in FP32 and yield a confident wrong answer),
tensors must hold at least one row, and inputs and requested outputs are each named
once. Encoding is bounded: the response is built in chunks against a byte budget, so
a request cannot make the server build an answer larger than it allows.
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
from mlctl.serve.typed import FLOATS, NUMPY_DTYPES, BadRequest, check_finite, json_array

HEADER_LENGTH = "inference-header-content-length"
_LENGTH_PREFIX = struct.Struct("<I")
#: Elements serialised per orjson call when building a JSON response: small enough that
#: the budget is checked often, large enough that the call overhead does not matter.
_JSON_CHUNK = 1 << 16


class ResponseTooLarge(BadRequest):
    """The answer to this request would be larger than the server's response limit."""


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
    body: bytes,
    header_length: str | None,
    specs: Sequence[TensorSpec],
    output_specs: Sequence[TensorSpec] = (),
) -> InferRequest:
    """Parse and check an infer request against the model's signature."""
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
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest("'id' must be a string")
    params = _parameters(request.get("parameters"), "request")
    arrays = _decode_inputs(raw_inputs, specs, binary_part)
    rows = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(rows.values())) > 1:
        raise BadRequest(f"inputs disagree on the batch size (first dimension): {rows}")
    return InferRequest(
        id=request_id,
        inputs=arrays,
        outputs=_requested_outputs(request.get("outputs"), output_specs),
        binary_output=_flag(params, "binary_data_output", "request"),
        rows=next(iter(rows.values())),
    )


def _decode_inputs(
    raw_inputs: list[Any], specs: Sequence[TensorSpec], binary: bytes
) -> dict[str, np.ndarray]:
    by_name = {spec.name: spec for spec in specs}
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for raw in raw_inputs:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise BadRequest("each input must be an object with a 'name'")
        name = raw["name"]
        if name in arrays:
            raise BadRequest(f"input {name!r} is given twice")
        spec = by_name.get(name)
        if spec is None:
            raise BadRequest(f"unknown input {name!r}; this model takes: {', '.join(by_name)}")
        arrays[name], used = _decode_input(raw, spec, binary, offset)
        offset += used
    missing = [name for name in by_name if name not in arrays]
    if missing:
        raise BadRequest(f"missing input(s): {', '.join(missing)}")
    if offset != len(binary):
        raise BadRequest(
            f"{len(binary) - offset} bytes of binary data were not claimed by any input"
        )
    return arrays


def _split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    if not header_length.isdigit():
        raise BadRequest("Inference-Header-Content-Length must be a non-negative integer")
    length = int(header_length)
    if length > len(body):
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


def _flag(params: Mapping[str, Any], key: str, where: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{where} parameter {key!r} must be true or false")
    return value


def _decode_input(
    raw: dict[str, Any], spec: TensorSpec, binary: bytes, offset: int
) -> tuple[np.ndarray, int]:
    """One input tensor as an array of its declared shape; returns the binary bytes used."""
    name = spec.name
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
    if count == 0:
        raise BadRequest(f"input {name!r}: shape {shape} holds no values; send at least one row")
    params = _parameters(raw.get("parameters"), f"input {name!r}")
    size = params.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest(f"input {name!r}: binary_data_size must be a non-negative integer")
        if offset + size > len(binary):
            raise BadRequest(f"input {name!r}: binary_data_size {size} does not fit the body")
        flat, used = _from_binary(name, binary[offset : offset + size], spec.datatype, count), size
        if spec.datatype in FLOATS:
            check_finite(name, flat, spec.datatype)  # binary data can carry NaN bit patterns
    elif "data" in raw:
        flat, used = _from_json(name, raw["data"], spec.datatype), 0
        if flat.size != count:
            raise BadRequest(f"input {name!r}: shape {shape} needs {count} values, got {flat.size}")
    else:
        raise BadRequest(f"input {name!r}: no 'data' and no binary_data_size parameter")
    return flat.reshape(shape), used


def _check_shape(name: str, shape: list[int], declared: list[int]) -> None:
    if len(shape) != len(declared) or any(
        d != -1 and d != s for s, d in zip(shape, declared, strict=True)
    ):
        raise BadRequest(
            f"input {name!r}: shape {shape} does not match the model's {declared} (-1 = any)"
        )


def _from_json(name: str, data: Any, datatype: Datatype) -> np.ndarray:
    """The flat array of ``data``: a single value, or flat or nested lists."""
    return json_array(name, data if isinstance(data, list) else [data], datatype).reshape(-1)


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


def _requested_outputs(raw: Any, specs: Sequence[TensorSpec]) -> list[RequestedOutput] | None:
    """The outputs a request names: each known to the model and named once."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'outputs' must be a non-empty list of {name, parameters}")
    known = {spec.name for spec in specs}
    requested: list[RequestedOutput] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadRequest("each requested output must be an object with a 'name'")
        name = item["name"]
        if known and name not in known:
            raise BadRequest(f"unknown output {name!r}; this model has: {', '.join(sorted(known))}")
        if any(output.name == name for output in requested):
            raise BadRequest(f"output {name!r} is requested twice")
        params = _parameters(item.get("parameters"), f"output {name!r}")
        requested.append(RequestedOutput(name, _flag(params, "binary_data", f"output {name!r}")))
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


class _Budget:
    """Bytes a response may still take; refuses the request once they run out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise ResponseTooLarge(
                f"the response would be larger than the server's limit of {self.limit} bytes; "
                "send fewer rows per request"
            )


def encode_response(
    *,
    model_name: str,
    model_version: str,
    request: InferRequest,
    values: Mapping[str, Any],
    specs: Sequence[TensorSpec],
    max_bytes: int = 1 << 62,
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary data follows it.

    Raises :class:`ResponseTooLarge` as soon as the response passes ``max_bytes``, and
    ``ValueError`` (a bundle bug) when an output's rows do not match the request's.
    """
    by_name = {spec.name: spec for spec in specs}
    if request.outputs is None:
        wanted = [RequestedOutput(spec.name, request.binary_output) for spec in specs]
    else:
        wanted = request.outputs
    budget = _Budget(max_bytes)
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for want in wanted:
        spec = by_name[want.name]
        array = _as_output_array(values[want.name], spec, request.rows)
        tensor: dict[str, Any] = {
            "name": spec.name,
            "datatype": spec.datatype.value,
            "shape": list(array.shape),
        }
        if want.binary:
            raw = _to_binary(array, spec.datatype, budget)
            tensor["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            tensor["data"] = orjson.Fragment(_to_json(array, spec, budget))
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


def _as_output_array(value: Any, spec: TensorSpec, rows: int) -> np.ndarray:
    if spec.datatype is Datatype.BYTES:
        array = np.asarray(value, dtype=np.object_)
    else:
        array = np.asarray(value, dtype=NUMPY_DTYPES[spec.datatype])
    if spec.shape and spec.shape[0] == -1 and (array.ndim == 0 or array.shape[0] != rows):
        got = array.shape[0] if array.ndim else "a scalar"
        raise ValueError(
            f"output {spec.name!r}: the model answered {got} rows for {rows} input rows"
        )
    return array


def _to_json(array: np.ndarray, spec: TensorSpec, budget: _Budget) -> bytes:
    """The flat JSON list of ``array``, serialised chunk by chunk against the budget."""
    flat = array.reshape(-1)
    parts: list[bytes] = []
    for start in range(0, max(flat.size, 1), _JSON_CHUNK):
        chunk = flat[start : start + _JSON_CHUNK]
        if spec.datatype is Datatype.BYTES:
            encoded = orjson.dumps([_as_text(spec.name, item) for item in chunk])
        else:
            encoded = orjson.dumps(np.ascontiguousarray(chunk), option=orjson.OPT_SERIALIZE_NUMPY)
        budget.spend(len(encoded))
        parts.append(encoded)
    if len(parts) == 1:
        return parts[0]
    return b"[" + b",".join(part[1:-1] for part in parts if len(part) > 2) + b"]"


def _as_text(output: str, value: Any) -> str:
    """A BYTES element as JSON text: bytes must be UTF-8 (never silently replaced)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(
                f"output {output!r} holds bytes that are not UTF-8 text; request it as binary "
                f'data: "outputs": [{{"name": "{output}", "parameters": {{"binary_data": true}}}}]'
            ) from None
    return value if isinstance(value, str) else str(value)


def _to_binary(array: np.ndarray, datatype: Datatype, budget: _Budget) -> bytes:
    if datatype is Datatype.BYTES:
        parts = []
        for item in array.reshape(-1):
            encoded = item if isinstance(item, bytes) else str(item).encode("utf-8")
            budget.spend(4 + len(encoded))
            parts.append(_LENGTH_PREFIX.pack(len(encoded)) + encoded)
        return b"".join(parts)
    budget.spend(array.size * array.itemsize)
    return np.ascontiguousarray(
        array, dtype=np.dtype(NUMPY_DTYPES[datatype]).newbyteorder("<")
    ).tobytes()
