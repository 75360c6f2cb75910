"""The OIP v2 wire format: JSON and binary tensor data, both directions."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from mlctl.bundle.schema import TensorSpec
from mlctl.serve.runtime import BadRequest
from mlctl.serve.tensors import decode_request, encode_response, outputs_by_name

FEATURES = [TensorSpec(name="features", datatype="FP32", shape=[-1, 4])]  # type: ignore[arg-type]
LABELS = [TensorSpec(name="label", datatype="BYTES", shape=[-1])]  # type: ignore[arg-type]
TWO_OUT = [*LABELS, TensorSpec(name="score", datatype="FP64", shape=[-1, 2])]  # type: ignore[arg-type]


def test_binary_input_data_follows_the_json_header() -> None:
    values = np.arange(8, dtype="<f4")
    header = orjson.dumps(
        {
            "id": "7",
            "inputs": [
                {
                    "name": "features",
                    "shape": [2, 4],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": values.nbytes},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    request = decode_request(header + values.tobytes(), str(len(header)), FEATURES)
    assert request.id == "7" and request.rows == 2 and request.binary_output
    np.testing.assert_array_equal(request.inputs["features"], values.reshape(2, 4))


@pytest.mark.parametrize(
    ("size", "length_header", "fragment"),
    [(31, None, "does not fit"), (32, "9999", "exceeds the body"), (16, None, "cannot fill")],
)
def test_inconsistent_binary_sizes_are_refused(
    size: int, length_header: str | None, fragment: str
) -> None:
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "features",
                    "shape": [2, 4],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": size},
                }
            ]
        }
    )
    body = header + bytes(16)
    with pytest.raises(BadRequest, match=fragment):
        decode_request(body, length_header or str(len(header)), FEATURES)


def test_binary_bytes_output_is_length_prefixed() -> None:
    request = decode_request(
        orjson.dumps(
            {
                "inputs": [
                    {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}
                ],
                "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
            }
        ),
        None,
        FEATURES,
    )
    body, header_length = encode_response(
        model_name="iris",
        model_version="1",
        request=request,
        values={"label": ["setosa"]},
        specs=LABELS,
    )
    assert header_length is not None
    header = orjson.loads(body[:header_length])
    assert header["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 10}}
    ]
    assert body[header_length:] == struct.pack("<I", 6) + b"setosa"


def test_requested_outputs_filter_the_response() -> None:
    request = decode_request(
        orjson.dumps(
            {
                "inputs": [
                    {
                        "name": "features",
                        "shape": [1, 4],
                        "datatype": "FP32",
                        "data": [[1, 2, 3, 4]],
                    }
                ],
                "outputs": [{"name": "score"}],
            }
        ),
        None,
        FEATURES,
    )
    values = outputs_by_name({"label": ["a"], "score": np.array([[0.25, 0.75]])}, TWO_OUT)
    body, header_length = encode_response(
        model_name="m", model_version="1", request=request, values=values, specs=TWO_OUT
    )
    assert header_length is None
    assert orjson.loads(body)["outputs"] == [
        {"name": "score", "datatype": "FP64", "shape": [1, 2], "data": [0.25, 0.75]}
    ]


def test_results_map_onto_outputs_by_name_single_value_or_order() -> None:
    assert outputs_by_name(["a"], LABELS) == {"label": ["a"]}
    pair = (["a"], np.zeros((1, 2)))
    assert list(outputs_by_name(pair, TWO_OUT)) == ["label", "score"]
    with pytest.raises(ValueError, match="no value for output"):
        outputs_by_name({"label": ["a"]}, TWO_OUT)


def test_booleans_are_not_silently_taken_as_numbers() -> None:
    body = orjson.dumps(
        {"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [True] * 4}]}
    )
    with pytest.raises(BadRequest, match="must be numbers"):
        decode_request(body, None, FEATURES)
