"""``mlctl predict``: send one request to a healthy replica of a deployed model.

The endpoint comes from Nomad's service registrations of the model's job (what Nomad
knows, not a guess); a replica is healthy when its allocation runs and every check
Nomad runs for it passes (``GET /v1/allocation/:id/checks``).  The HTTP call itself is
:func:`call_model`, the one place a request to a model is made.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from mlctl.deploy.lifecycle import read_model
from mlctl.errors import (
    AuthError,
    InvalidInput,
    MlctlError,
    NotFound,
    PermissionDenied,
    Unreachable,
)
from mlctl.nomad.client import NomadClient
from mlctl.nomad.types import ServiceRegistration

TIMEOUT = (5.0, 60.0)  # connect, read
MAX_ANSWER_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    alloc_id: str

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"


def _healthy(client: NomadClient, registration: ServiceRegistration) -> bool:
    alloc_id = registration.get("AllocID", "")
    try:
        checks = client.allocations.checks(alloc_id)
    except NotFound:  # a Nomad without the checks API: fall back on deployment health
        alloc = client.allocations.read(alloc_id)
        status = alloc.get("DeploymentStatus") or {}
        return alloc.get("ClientStatus") == "running" and status.get("Healthy") is not False
    results = [c for c in checks.values() if c.get("Mode") != "readiness"]
    return bool(checks) and all(c.get("Status") == "success" for c in results)


def healthy_endpoints(client: NomadClient, model: str) -> tuple[list[Endpoint], int]:
    """The model's healthy endpoints and how many registrations there are in all."""
    job = read_model(client, model)
    registrations = client.services.for_job(job)
    healthy = [
        Endpoint(r.get("Address", ""), int(r.get("Port", 0)), r.get("AllocID", ""))
        for r in registrations
        if r.get("Port") and _healthy(client, r)
    ]
    return healthy, len(registrations)


def call_model(
    endpoint: Endpoint, path: str, body: Any, token: str | None = None
) -> tuple[int, Any]:
    """POST ``body`` as JSON to ``path`` on one replica: (HTTP status, decoded answer).
    ``token`` goes as ``Authorization: Bearer`` (models deployed with Vault need one)."""
    url = f"{endpoint.url}{path}"
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        response = requests.post(url, json=body, headers=headers, timeout=TIMEOUT, stream=True)
        raw = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise Unreachable(
            f"the model at {endpoint.url} did not answer: {type(exc).__name__}",
            hint="mlctl status MODEL shows its replicas; mlctl logs MODEL --stderr why",
        ) from exc
    if len(raw) > MAX_ANSWER_BYTES:
        raise Unreachable(f"the answer from {url} is larger than {MAX_ANSWER_BYTES} bytes")
    try:
        return response.status_code, json.loads(raw)
    except ValueError:
        return response.status_code, raw.decode("utf-8", errors="replace")


def parse_request(text: str, source: str) -> Any:
    """The request body: JSON text from the command line, a file or stdin."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(
            f"{source}: not valid JSON: {exc}",
            hint="""e.g. '{"features": [[5.1, 3.5, 1.4, 0.2]]}'""",
        ) from exc


#: The caller's bearer token for models (None: no identity to send); ``True`` asks for a
#: fresh one. :func:`mlctl.session.model_token` is the one the CLI and the TUI use.
TokenSource = Callable[[bool], "str | None"]


def _token(tokens: TokenSource | None, fresh: bool) -> tuple[str | None, MlctlError | None]:
    """The token, or why there is none: kept, not raised, since a public model needs none."""
    if tokens is None:
        return None, None
    try:
        return tokens(fresh), None
    except MlctlError as exc:
        return None, exc


def _call_as_caller(
    client: NomadClient, endpoint: Endpoint, path: str, body: Any, model: str,
    tokens: TokenSource | None,
) -> tuple[int, Any]:  # fmt: skip
    """Call with the caller's token; a 403 asks Vault for a fresh token once (a grant
    may be newer than the cached token); 401 and 403 become the CLI's 6 and 7."""
    token, problem = _token(tokens, fresh=False)
    status, answer = call_model(endpoint, path, body, token)
    if status == 403 and token is not None:
        fresh, problem = _token(tokens, fresh=True)
        if fresh is not None and fresh != token:
            token = fresh
            status, answer = call_model(endpoint, path, body, token)
    grant = f"{client.namespace}/{model}"
    if status == 401:
        if token is not None:
            raise AuthError(
                f"model {grant} did not accept your token",
                hint="run mlctl login again (or check MLCTL_MODEL_TOKEN)",
            )
        if problem is not None:
            raise problem
        raise AuthError(
            f"model {grant} answers only callers with a token, and you are not logged in",
            hint="run mlctl login (or set MLCTL_MODEL_TOKEN)",
        )
    if status == 403:
        raise PermissionDenied(
            f"your token does not grant model {grant} (the model answered 403)",
            hint=f"ask an mlctl admin: mlctl access grant {model} -n {client.namespace} "
            "--user NAME",
        )
    return status, answer


def predict(
    client: NomadClient, model: str, body: Any, oip: bool, tokens: TokenSource | None = None
) -> Any:
    """Send the request to a healthy replica and return the model's answer."""
    endpoints, total = healthy_endpoints(client, model)
    if not endpoints:
        raise Unreachable(
            f"model {model} has no healthy endpoint ({total} registered, none passing checks)",
            hint=f"mlctl status {model} shows its replicas; mlctl logs {model} --stderr why",
        )
    endpoint = random.choice(endpoints)  # noqa: S311 - spreading load, not security
    path = f"/v2/models/{model}/infer" if oip else "/predict"
    status, answer = _call_as_caller(client, endpoint, path, body, model, tokens)
    if status >= 400:
        message = answer.get("error") if isinstance(answer, dict) else str(answer)[:300]
        error: MlctlError
        if status < 500:
            error = InvalidInput(f"model {model} refused the request (HTTP {status}): {message}")
        else:
            error = Unreachable(
                f"model {model} failed (HTTP {status}): {message}",
                hint=f"mlctl logs {model} --stderr shows the server's side",
            )
        raise error
    return answer
