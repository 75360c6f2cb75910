"""The Starlette application: OIP v2 routes, the seeds' simple API, health and metrics.

``make_app(options)`` reads the bundle's config at once (so bad configs fail before a
port is opened) and loads the model in a background thread on startup, so liveness
answers immediately and readiness turns 200 when the model is in memory.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

import mlctl
from mlctl.bundle.config import read_config
from mlctl.bundle.schema import BundleConfig, TensorSpec
from mlctl.serve.batching import Batcher, BatcherClosed
from mlctl.serve.fastpath import FastPath, hot_routes
from mlctl.serve.http import (
    AccessLogMiddleware,
    EventLog,
    HttpError,
    error_response,
    json_response,
    new_error_id,
    note_error_id,
    read_body,
)
from mlctl.serve.loader import load_bundle
from mlctl.serve.metrics import CONTENT_TYPE, ServerMetrics
from mlctl.serve.options import ServeOptions
from mlctl.serve.rows import count_rows
from mlctl.serve.runtime import BadRequest, ModelRuntime, UserCodeError
from mlctl.serve.tensors import HEADER_LENGTH, decode_request, encode_response, outputs_by_name

SERVER_NAME = "mlctl"
EXTENSIONS = ["binary_tensor_data"]


class NotReady(HttpError):
    status = 503


@dataclass
class ServerState:
    """Everything the routes share; one per app (per worker process)."""

    config: BundleConfig
    options: ServeOptions
    metrics: ServerMetrics
    log: EventLog
    runtime: ModelRuntime | None = None
    batcher: Batcher[Any, Any] | None = None
    load_error: str | None = None
    on_load_failure: Callable[[], None] | None = None
    loader: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    def ready_runtime(self) -> tuple[ModelRuntime, Batcher[Any, Any]]:
        if self.runtime is None or self.batcher is None:
            why = f"failed to load: {self.load_error}" if self.load_error else "loading"
            raise NotReady(f"model {self.name} is not ready ({why})")
        return self.runtime, self.batcher


def make_app(
    options: ServeOptions,
    *,
    log: EventLog | None = None,
    on_load_failure: Callable[[], None] | None = None,
) -> Starlette:
    """The ASGI app serving ``options.bundle_dir``; used by the CLI, workers and tests."""
    config = read_config(options.bundle_dir)
    serving = options.resolve(config.serving)
    event_log = log or EventLog(access=options.access_log)
    state = ServerState(
        config=config,
        options=options,
        metrics=ServerMetrics(config.name),
        log=event_log,
        on_load_failure=on_load_failure,
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state.loader = asyncio.get_running_loop().create_task(
            _load(state, serving.max_batch_size, serving.max_batch_wait_ms)
        )
        try:
            yield
        finally:
            state.loader.cancel()
            if state.batcher is not None:
                await state.batcher.close()
            event_log.flush()

    routes = _routes(state, serving.max_body_bytes)
    model = {"name": config.name}
    hot = hot_routes(
        routes,
        {
            "/predict": {},
            "/v2/models/{name}/infer": model,
            "/v2/models/{name}/versions/{version}/infer": {**model, "version": config.version},
        },
    )
    app = ModelServerApp(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception},
    )
    app.outer = lambda inner: AccessLogMiddleware(
        FastPath(inner, routes=hot), metrics=state.metrics, log=event_log
    )
    app.state.server = state
    return app


class ModelServerApp(Starlette):
    """Starlette with the access log and the inference fast path *outside* its stack.

    Starlette always puts its ServerErrorMiddleware outermost, and every request would
    pay for it; the hot inference handlers are guarded (:func:`_guard`: JSON errors and
    a logged error id), so they do not need it. Everything else still goes through
    Starlette's full stack, which the fast path hands on to.
    """

    outer: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return self.outer(stack) if self.outer is not None else stack


async def _load(state: ServerState, max_batch_size: int, max_batch_wait_ms: float) -> None:
    """Load in a thread so the event loop answers liveness meanwhile."""
    started = time.perf_counter()
    try:
        bundle = await asyncio.to_thread(load_bundle, state.options.bundle_dir)
    except Exception as exc:
        error_id = new_error_id()
        state.load_error = str(getattr(exc, "message", exc))
        state.log.error(error_id, f"model {state.name} failed to load: {state.load_error}", exc)
        if state.on_load_failure is not None:
            state.on_load_failure()
        return
    runtime = ModelRuntime(bundle)
    state.batcher = Batcher(
        runtime.run_batch,
        max_batch_size=max_batch_size,
        max_batch_wait_ms=max_batch_wait_ms,
        on_batch=state.metrics.observe_batch,
    )
    state.batcher.start()
    _freeze_heap()
    state.runtime = runtime
    state.metrics.load_seconds.set(time.perf_counter() - started)
    state.metrics.ready.set(1)
    state.log.write(
        {
            "time": round(time.time(), 3),
            "level": "info",
            "message": f"model {state.name} {state.config.version} ready",
            "load_seconds": round(bundle.load_seconds, 3),
        },
        urgent=True,
    )


def _freeze_heap() -> None:
    """Move everything alive after loading (model, libraries) out of the GC's reach.

    A loaded model drags in numpy, scipy and scikit-learn: hundreds of thousands of
    long-lived objects. Every full collection walked them all, stalling the event loop
    for tens of milliseconds and putting those stalls straight into p99 latency
    (measured: p99 83 ms -> 8 ms under 32 connections). They live as long as the
    process, so freezing them loses nothing.
    """
    gc.collect()
    gc.freeze()


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 as JSON errors, like every other failure."""
    assert isinstance(exc, HTTPException)
    return error_response(str(exc.detail), exc.status_code)


Endpoint = Callable[[Request], Awaitable[Response]]


def _guard(state: ServerState, endpoint: Endpoint) -> Endpoint:
    """Turn known failures into JSON 4xx/5xx; unknown ones into 500 with a logged error id."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except (HttpError, BadRequest) as exc:
            status = exc.status if isinstance(exc, HttpError) else 400
            message = exc.message if isinstance(exc, HttpError) else str(exc)
            return error_response(message, status)
        except BatcherClosed as exc:
            return error_response(str(exc), 503)
        except Exception as exc:
            error_id = new_error_id()
            stage = exc.stage if isinstance(exc, UserCodeError) else "the server"
            state.log.error(error_id, f"{request.method} {request.url.path}: {exc}", exc)
            note_error_id(request, error_id)
            return error_response(
                f"internal error in {stage}; quote error id {error_id} when reporting it",
                500,
                error_id,
            )

    return guarded


def _routes(state: ServerState, max_body_bytes: int) -> list[Route]:
    config = state.config

    def check_model(request: Request) -> None:
        name = request.path_params["name"]
        if name != config.name:
            raise HttpError(
                f"unknown model {name!r}; this server serves {config.name!r}", status=404
            )
        version = request.path_params.get("version")
        if version is not None and version != config.version:
            raise HttpError(
                f"unknown version {version!r} of model {name!r}; served: {config.version}",
                status=404,
            )

    async def json_body(request: Request) -> Any:
        body = await read_body(request, max_body_bytes)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from None

    # --- liveness and readiness -------------------------------------------------------
    async def live(_request: Request) -> Response:
        return json_response({"live": True})

    async def healthz(_request: Request) -> Response:
        return json_response({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        state.ready_runtime()
        return json_response({"status": "ready", "model": config.name, "version": config.version})

    async def server_ready(_request: Request) -> Response:
        ready = state.runtime is not None
        return json_response({"ready": ready}, 200 if ready else 400)

    async def model_ready(request: Request) -> Response:
        check_model(request)
        ready = state.runtime is not None
        return json_response({"name": config.name, "ready": ready}, 200 if ready else 400)

    # --- metadata ---------------------------------------------------------------------
    async def server_metadata(_request: Request) -> Response:
        return json_response(
            {"name": SERVER_NAME, "version": mlctl.__version__, "extensions": EXTENSIONS}
        )

    def tensors(specs: list[TensorSpec]) -> list[dict[str, Any]]:
        return [{"name": s.name, "datatype": s.datatype.value, "shape": s.shape} for s in specs]

    async def model_metadata(request: Request) -> Response:
        check_model(request)
        return json_response(
            {
                "name": config.name,
                "versions": [config.version],
                "platform": state.runtime.bundle.platform
                if state.runtime
                else config.model.format.value,
                "inputs": tensors(config.signature.inputs),
                "outputs": tensors(config.signature.outputs),
            }
        )

    # --- inference ----------------------------------------------------------------------
    async def infer(request: Request) -> Response:
        check_model(request)
        _, batcher = state.ready_runtime()
        body = await read_body(request, max_body_bytes)
        decoded = decode_request(body, request.headers.get(HEADER_LENGTH), config.signature.inputs)
        arrays = decoded.inputs
        features = next(iter(arrays.values())) if len(arrays) == 1 else arrays
        result = await batcher.submit(features, decoded.rows)
        try:
            values = outputs_by_name(result, config.signature.outputs)
        except ValueError as exc:
            raise UserCodeError("postprocess", exc) from exc
        payload, header_length = encode_response(
            model_name=config.name,
            model_version=config.version,
            request=decoded,
            values=values,
            specs=config.signature.outputs,
        )
        if header_length is None:
            return Response(payload, media_type="application/json")
        return Response(
            payload,
            media_type="application/octet-stream",
            headers={"Inference-Header-Content-Length": str(header_length)},
        )

    async def predict(request: Request) -> Response:
        runtime, batcher = state.ready_runtime()
        features = runtime.preprocess(await json_body(request))
        result = await batcher.submit(features, count_rows(features))
        return json_response({"predictions": result})

    async def preprocess(request: Request) -> Response:
        runtime, _ = state.ready_runtime()
        return json_response({"features": runtime.preprocess(await json_body(request))})

    async def postprocess(request: Request) -> Response:
        runtime, _ = state.ready_runtime()
        payload = await json_body(request)
        if not isinstance(payload, dict) or "predictions" not in payload:
            raise BadRequest('expected a JSON object {"predictions": [...]}')
        return json_response({"predictions": runtime.postprocess(payload["predictions"])})

    async def metrics(_request: Request) -> Response:
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)

    def route(path: str, endpoint: Endpoint, method: str = "GET") -> Route:
        return Route(path, _guard(state, endpoint), methods=[method])

    return [
        route("/v2/health/live", live),
        route("/v2/health/ready", server_ready),
        route("/v2", server_metadata),
        route("/v2/models/{name}", model_metadata),
        route("/v2/models/{name}/versions/{version}", model_metadata),
        route("/v2/models/{name}/ready", model_ready),
        route("/v2/models/{name}/versions/{version}/ready", model_ready),
        route("/v2/models/{name}/infer", infer, "POST"),
        route("/v2/models/{name}/versions/{version}/infer", infer, "POST"),
        route("/predict", predict, "POST"),
        route("/preprocess", preprocess, "POST"),
        route("/postprocess", postprocess, "POST"),
        route("/healthz", healthz),
        route("/healthCheck", healthz),
        route("/readyz", readyz),
        route("/metrics", metrics),
    ]
