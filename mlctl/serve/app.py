"""The Starlette application: OIP v2 routes, the seeds' simple API, health and metrics.

``make_app(options)`` reads the bundle's config at once (so bad configs fail before a
port is opened) and loads the model in a background thread on startup, so liveness
answers immediately and readiness turns 200 when the model is in memory. With
``preloaded=`` (``--workers``: each worker loads before it joins the port) the model
is served from the first request.

The model routes do no work on the event loop beyond HTTP: they read the body and hand
a :class:`~mlctl.serve.pipeline.Job` to the batcher; parsing, the contract's hooks,
the model and encoding all run on the model thread (see ``pipeline``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

import mlctl
from mlctl.bundle.config import read_config
from mlctl.bundle.schema import TensorSpec
from mlctl.serve.auth import (
    WORKER_KEYS_WAIT_SECONDS,
    Access,
    Caller,
    Forbidden,
    make_verifier,
)
from mlctl.serve.batching import BatcherClosed, InferenceTimeout
from mlctl.serve.fastpath import FastPath, hot_routes
from mlctl.serve.http import (
    LOG_SCOPE_KEY,
    AccessLogMiddleware,
    EventLog,
    HttpError,
    RawResponse,
    error_response,
    json_response,
    new_error_id,
    note_error_id,
    receive_body,
)
from mlctl.serve.loader import LoadedBundle
from mlctl.serve.metrics import CONTENT_TYPE, ServerMetrics
from mlctl.serve.openapi import openapi_document, with_bearer_auth
from mlctl.serve.options import ServeOptions
from mlctl.serve.pipeline import Job, Kind
from mlctl.serve.runtime import BadRequest, UserCodeError
from mlctl.serve.state import NotReady, ServerState, start_loading, start_serving
from mlctl.serve.tensors import HEADER_LENGTH

SERVER_NAME = "mlctl"
EXTENSIONS = ["binary_tensor_data"]
#: How long stopping waits for the model thread's current batch after the drain.
CLOSE_WAIT_SECONDS = 2.0


def make_app(
    options: ServeOptions,
    *,
    log: EventLog | None = None,
    on_load_failure: Callable[[], None] | None = None,
    preloaded: LoadedBundle | None = None,
) -> Starlette:
    """The ASGI app serving ``options.bundle_dir``; used by the CLI, workers and tests."""
    config = read_config(options.bundle_dir)
    serving = options.resolve(config.serving)
    event_log = log or EventLog(access=options.access_log)
    verifier = make_verifier(
        options.resolve_auth(config.serving.auth), config.name, on_error=event_log.warning
    )
    state = ServerState(
        config=config,
        options=options,
        serving=serving,
        metrics=ServerMetrics(config.name),
        log=event_log,
        on_load_failure=on_load_failure,
        verifier=verifier,
    )
    notifier = _prediction_notifier(state)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if verifier is not None:
            verifier.keys.start()
        if preloaded is not None:
            if verifier is not None:  # a worker: no token can be checked without the keys
                await verifier.keys.wait_loaded(WORKER_KEYS_WAIT_SECONDS)
            start_serving(state, preloaded)
        else:
            start_loading(state, asyncio.get_running_loop())
        if notifier is not None:
            notifier.start()
        try:
            yield
        finally:
            if verifier is not None:
                await verifier.keys.close()
            if state.batcher is not None:
                await state.batcher.close(CLOSE_WAIT_SECONDS)
            if notifier is not None:
                notifier.stop()
            event_log.flush()

    routes = _routes(state)
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


def _prediction_notifier(state: ServerState) -> Any:
    """The bundle's prediction notifications (alerts.predictions), as an observer."""
    if state.config.alerts is None or state.config.alerts.notify is None:
        return None
    import os

    from mlctl.monitor.predictions import build_notifier

    def hook() -> Any:
        runtime = state.runtime
        return runtime.bundle.hooks.on_prediction if runtime is not None else None

    notifier = build_notifier(state.config, os.environ, hook)
    if notifier is not None:
        state.observers.append(notifier.observe)
    return notifier


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


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 as JSON errors, like every other failure (405 keeps Allow)."""
    assert isinstance(exc, HTTPException)
    response = error_response(str(exc.detail), exc.status_code)
    response.headers.update(exc.headers or {})
    return response


Endpoint = Callable[[Request], Awaitable[Response]]


def _guard(state: ServerState, endpoint: Endpoint) -> Endpoint:
    """Every failure becomes a JSON answer; server-side ones also get a logged error id.

    Clients see generic text for anything that is not their fault (no paths, no
    exception text: those can hold secrets); the log line with the same id has details.
    """

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except HttpError as exc:
            return error_response(exc.message, exc.status, headers=exc.headers)
        except BadRequest as exc:
            return error_response(str(exc), 400)
        except ClientDisconnect:
            return error_response("the client went away", 400)
        except BatcherClosed as exc:
            return error_response(str(exc), 503)
        except InferenceTimeout as exc:
            return _logged_failure(state, request, 504, str(exc), exc, traceback=False)
        except Exception as exc:
            stage = exc.stage if isinstance(exc, UserCodeError) else "the server"
            return _logged_failure(state, request, 500, f"internal error in {stage}", exc)

    return guarded


def _logged_failure(
    state: ServerState,
    request: Request,
    status: int,
    public: str,
    exc: Exception,
    *,
    traceback: bool = True,
) -> Response:
    error_id = new_error_id()
    state.log.error(
        error_id, f"{request.method} {request.url.path}: {exc}", exc if traceback else None
    )
    note_error_id(request, error_id)
    return error_response(
        f"{public}; quote error id {error_id} when reporting it", status, error_id
    )


def _log_caller(request: Request, caller: Caller) -> None:
    """The access-log line of this request names the caller (never the token)."""
    record = request.scope.get(LOG_SCOPE_KEY)
    if isinstance(record, dict):
        record["sub"] = caller.subject
        if caller.name is not None:
            record["caller"] = caller.name


_CONTENT_LENGTH = b"content-length"
_HEADER_LENGTH = HEADER_LENGTH.encode("latin-1")


def _body_headers(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """(Content-Length, Inference-Header-Content-Length), the first of each, in one pass
    over the raw ASGI headers (lower-case names) instead of two Headers lookups."""
    declared = header_length = None
    for name, value in headers:
        if name == _CONTENT_LENGTH:
            if declared is None:
                declared = value.decode("latin-1")
        elif name == _HEADER_LENGTH and header_length is None:
            header_length = value.decode("latin-1")
    return declared, header_length


def _routes(state: ServerState) -> list[Route]:
    config = state.config
    max_body_bytes = state.serving.max_body_bytes
    verifier = state.verifier

    def admitted(request: Request, access: Access) -> bool:
        """True for a caller whose token was verified before (the steady state: a lookup,
        no coroutine); False when it must be verified by :func:`authorize`."""
        if verifier is None:
            return True
        try:
            caller = verifier.cached(request.headers.get("authorization"), access)
        except Forbidden as refused:
            _log_caller(request, refused.caller)
            raise
        if caller is None:
            return False
        _log_caller(request, caller)
        return True

    async def authorize(request: Request, access: Access) -> None:
        """Refuse callers without a granted token; log who the others are (never the token)."""
        if verifier is None or admitted(request, access):
            return
        try:
            caller = await verifier.check(request.headers.get("authorization"), access)
        except Forbidden as refused:
            _log_caller(request, refused.caller)
            raise
        _log_caller(request, caller)

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

    # --- liveness and readiness -------------------------------------------------------
    async def live(_request: Request) -> Response:
        return json_response({"live": True})

    async def healthz(_request: Request) -> Response:
        return json_response({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        why = state.not_ready_because()
        if why is not None:
            raise NotReady(f"model {config.name} is not ready ({why})")
        return json_response({"status": "ready", "model": config.name, "version": config.version})

    async def server_ready(_request: Request) -> Response:
        ready = state.not_ready_because() is None
        return json_response({"ready": ready}, 200 if ready else 400)

    async def model_ready(request: Request) -> Response:
        check_model(request)
        ready = state.not_ready_because() is None
        return json_response({"name": config.name, "ready": ready}, 200 if ready else 400)

    # --- metadata ---------------------------------------------------------------------
    async def server_metadata(_request: Request) -> Response:
        return json_response(
            {"name": SERVER_NAME, "version": mlctl.__version__, "extensions": EXTENSIONS}
        )

    def tensors(specs: list[TensorSpec]) -> list[dict[str, Any]]:
        return [{"name": s.name, "datatype": s.datatype.value, "shape": s.shape} for s in specs]

    async def model_metadata(request: Request) -> Response:
        await authorize(request, Access.MODEL)
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

    document = openapi_document(config)
    if verifier is not None:
        document = with_bearer_auth(document)

    async def openapi(_request: Request) -> Response:
        return json_response(document)

    # --- the model routes: one shape, the work is the pipeline's ------------------------
    def model_route(kind: Kind, *, named: bool = False) -> Endpoint:
        async def handle(request: Request) -> Response:
            if not admitted(request, Access.MODEL):
                await authorize(request, Access.MODEL)
            if named:
                check_model(request)
            batcher = state.ready_batcher()
            declared, header_length = _body_headers(request.scope["headers"])
            body = await receive_body(request.receive, declared, max_body_bytes)
            reply = await batcher.submit(Job(kind, body, header_length))
            if state.observers:
                state.observe(request.url.path, body, reply)
            return RawResponse(
                reply.body, reply.status, media_type=reply.media_type, headers=reply.headers
            )

        return handle

    metrics_token = verifier is not None and verifier.settings.metrics_token

    async def metrics(request: Request) -> Response:
        if metrics_token:
            await authorize(request, Access.METRICS)
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)

    def route(path: str, endpoint: Endpoint, method: str = "GET") -> Route:
        return Route(path, _guard(state, endpoint), methods=[method])

    infer = model_route(Kind.INFER, named=True)
    return [
        route("/v2/health/live", live),
        route("/v2/health/ready", server_ready),
        route("/v2", server_metadata),
        route("/v2/openapi.json", openapi),
        route("/v2/models/{name}", model_metadata),
        route("/v2/models/{name}/versions/{version}", model_metadata),
        route("/v2/models/{name}/ready", model_ready),
        route("/v2/models/{name}/versions/{version}/ready", model_ready),
        route("/v2/models/{name}/infer", infer, "POST"),
        route("/v2/models/{name}/versions/{version}/infer", infer, "POST"),
        route("/predict", model_route(Kind.PREDICT), "POST"),
        route("/preprocess", model_route(Kind.PREPROCESS), "POST"),
        route("/postprocess", model_route(Kind.POSTPROCESS), "POST"),
        route("/healthz", healthz),
        route("/healthCheck", healthz),
        route("/readyz", readyz),
        route("/metrics", metrics),
    ]
