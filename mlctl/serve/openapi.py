"""The OpenAPI 3 document of the routes ``mlctl serve`` answers (``GET /v2/openapi.json``).

Written from the Open Inference Protocol v2's REST shapes (KServe/Triton): health,
server and model metadata, readiness and inference, plus the seeds' simple JSON routes.
It describes *this* server: the model name and version path parameters list the one
model served, so a client generator (or a fuzzer such as schemathesis, which the tests
run against a live server) reaches the inference code instead of 404s. Every status a
route may answer is listed; an error is always ``{"error", "error_id"?}``.
"""

from __future__ import annotations

from typing import Any

import mlctl
from mlctl.bundle.schema import BundleConfig, Datatype

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    meanings = {
        400: "the request is malformed or does not fit the model's signature",
        401: "no bearer token, or one that is not valid (WWW-Authenticate: Bearer)",
        403: "the token is valid but does not grant this model",
        404: "no such model or version on this server",
        413: "the request body is larger than the server accepts",
        503: "the model is not ready (loading, failed to load, stuck or stopping)",
        504: "the model did not answer within the inference timeout",
    }
    return {str(s): _json_body(_ref("Error"), meanings[s]) for s in statuses}


def _schemas() -> dict[str, Any]:
    datatypes = [d.value for d in Datatype]
    shape = {"type": "array", "items": {"type": "integer", "minimum": -1}}
    tensor_data: dict[str, Any] = {
        "description": "row-major values, flat or nested; BYTES elements are strings",
        "type": "array",
        "items": {},
    }
    parameters = {"type": "object", "additionalProperties": True}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}, "error_id": {"type": "string"}},
        },
        "Live": {
            "type": "object",
            "required": ["live"],
            "properties": {"live": {"type": "boolean"}},
        },
        "Ready": {
            "type": "object",
            "required": ["ready"],
            "properties": {"ready": {"type": "boolean"}},
        },
        "ModelReady": {
            "type": "object",
            "required": ["name", "ready"],
            "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
        },
        "ServerMetadata": {
            "type": "object",
            "required": ["name", "version", "extensions"],
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "extensions": {"type": "array", "items": {"type": "string"}},
            },
        },
        "MetadataTensor": {
            "type": "object",
            "required": ["name", "datatype", "shape"],
            "properties": {
                "name": {"type": "string"},
                "datatype": {"type": "string", "enum": datatypes},
                "shape": shape,
            },
        },
        "ModelMetadata": {
            "type": "object",
            "required": ["name", "platform", "inputs", "outputs"],
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": _ref("MetadataTensor")},
                "outputs": {"type": "array", "items": _ref("MetadataTensor")},
            },
        },
        "RequestInput": {
            "type": "object",
            "required": ["name", "shape", "datatype"],
            "properties": {
                "name": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "datatype": {"type": "string", "enum": datatypes},
                "parameters": parameters,
                "data": tensor_data,
            },
        },
        "RequestOutput": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "parameters": {
                    "type": "object",
                    "properties": {"binary_data": {"type": "boolean"}},
                },
            },
        },
        "InferenceRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {
                    "type": "object",
                    "properties": {"binary_data_output": {"type": "boolean"}},
                },
                "inputs": {"type": "array", "minItems": 1, "items": _ref("RequestInput")},
                "outputs": {"type": "array", "minItems": 1, "items": _ref("RequestOutput")},
            },
        },
        "ResponseOutput": {
            "type": "object",
            "required": ["name", "shape", "datatype"],
            "properties": {
                "name": {"type": "string"},
                "shape": shape,
                "datatype": {"type": "string", "enum": datatypes},
                "parameters": parameters,
                "data": tensor_data,
            },
        },
        "InferenceResponse": {
            "type": "object",
            "required": ["model_name", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "parameters": parameters,
                "outputs": {"type": "array", "items": _ref("ResponseOutput")},
            },
        },
        "Predictions": {
            "type": "object",
            "required": ["predictions"],
            "properties": {"predictions": {}},
        },
        "Features": {"type": "object", "required": ["features"], "properties": {"features": {}}},
    }


def openapi_document(config: BundleConfig) -> dict[str, Any]:
    """The document for a server serving ``config``'s model."""
    name = {
        "name": "model_name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": [config.name]},
    }
    version = {
        "name": "model_version",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": [config.version]},
    }

    def get(schema: str, *extra: int, ready_false: bool = False) -> dict[str, Any]:
        responses = {"200": _json_body(_ref(schema), "success")}
        if ready_false:  # OIP readiness: any 4xx means "not ready"
            responses["400"] = _json_body(_ref(schema), "not ready")
        responses.update(_errors(*extra))
        return {"get": {"responses": responses}}

    def post(request: dict[str, Any], answer: str) -> dict[str, Any]:
        return {
            "post": {
                "requestBody": {"required": True, "content": {JSON: {"schema": request}}},
                "responses": {
                    "200": _json_body(_ref(answer), "the model's answer"),
                    **_errors(400, 404, 413, 503, 504),
                },
            }
        }

    def with_params(item: dict[str, Any], *params: dict[str, Any]) -> dict[str, Any]:
        return {"parameters": list(params), **item}

    model, versioned = "/v2/models/{model_name}", "/v2/models/{model_name}/versions/{model_version}"
    infer = post(_ref("InferenceRequest"), "InferenceResponse")
    anything: dict[str, Any] = {}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"mlctl model server: {config.name} {config.version}",
            "version": mlctl.__version__,
            "description": "Open Inference Protocol v2 REST routes and the simple JSON API.",
        },
        "paths": {
            "/v2/health/live": get("Live"),
            "/v2/health/ready": get("Ready", ready_false=True),
            "/v2": get("ServerMetadata"),
            model: with_params(get("ModelMetadata", 404), name),
            versioned: with_params(get("ModelMetadata", 404), name, version),
            f"{model}/ready": with_params(get("ModelReady", 404, ready_false=True), name),
            f"{versioned}/ready": with_params(
                get("ModelReady", 404, ready_false=True), name, version
            ),
            f"{model}/infer": with_params(infer, name),
            f"{versioned}/infer": with_params(infer, name, version),
            "/predict": post(anything, "Predictions"),
            "/preprocess": post(anything, "Features"),
            "/postprocess": post(_ref("Predictions"), "Predictions"),
        },
        "components": {"schemas": _schemas()},
    }


_OPEN_MODEL_PATHS = ("/ready",)
_SIMPLE_MODEL_PATHS = {"/predict", "/preprocess", "/postprocess"}


def with_bearer_auth(document: dict[str, Any]) -> dict[str, Any]:
    """The document of a ``serving.auth.mode: jwt`` server: every model route but
    readiness needs ``Authorization: Bearer <jwt>`` and may answer 401 or 403."""
    for path, item in document["paths"].items():
        model_route = path.startswith("/v2/models/") and not path.endswith(_OPEN_MODEL_PATHS)
        if not (model_route or path in _SIMPLE_MODEL_PATHS):
            continue
        for method in ("get", "post"):
            if method in item:
                item[method]["security"] = [{"bearer": []}]
                item[method]["responses"].update(_errors(401, 403))
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    return document
