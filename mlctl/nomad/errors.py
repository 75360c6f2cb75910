"""The one place where a failed Nomad request becomes an :class:`~mlctl.errors.MlctlError`.

python-nomad raises its own exceptions (``BadRequestNomadException`` and friends, each
carrying ``nomad_resp``: the ``requests.Response``, or the ``requests`` exception when no
answer came back). Every message names the HTTP method and path, so a user (or a bug
report) shows exactly which call failed, and never the token, which travels in a header.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from nomad.api import exceptions as nomad_exc

from mlctl import endpoint
from mlctl.errors import (
    AuthError,
    Conflict,
    InvalidInput,
    MlctlError,
    NotFound,
    PermissionDenied,
    Unreachable,
)

_MAX_BODY = 400


@dataclass(frozen=True)
class CallContext:
    """What the mapper needs to know about the client that made the call."""

    address: str
    token_sent: bool


def _where(request: object | None, fallback: str) -> str:
    """``METHOD /path`` of a prepared request (the query string, which may be long, dropped)."""
    method = getattr(request, "method", None)
    url = getattr(request, "url", None)
    if not method or not url:
        return fallback
    return f"{method} {urlsplit(str(url)).path}"


def _body(response: requests.Response) -> str:
    text = " ".join(response.text.split())
    return text if len(text) <= _MAX_BODY else text[:_MAX_BODY] + "…"


def from_response(response: requests.Response, ctx: CallContext) -> MlctlError:
    """Map an HTTP error answer to the matching error class."""
    where = _where(response.request, "request")
    status = response.status_code
    body = _body(response)
    if status == 400:
        return InvalidInput(f"Nomad rejected {where}: {body or 'bad request'}")
    if status in (401, 403):
        if not ctx.token_sent:
            # No token at all is an authentication problem (status 6), not a policy one.
            return AuthError(f"permission denied: {where}", hint="not logged in — run mlctl login")
        if "token not found" in body.lower() or "token expired" in body.lower():
            return AuthError(
                f"Nomad does not know the token sent with {where}",
                hint="token expired or revoked — run mlctl login",
            )
        return PermissionDenied(
            f"permission denied: {where}",
            hint="your token's policies do not allow this; ask an operator for access",
        )
    if status == 404:
        return NotFound(f"not found: {where}" + (f": {body}" if body else ""))
    if status == 409:
        return Conflict(f"conflict: {where}: {body}")
    return Unreachable(
        f"Nomad failed {where} with HTTP {status}" + (f": {body}" if body else ""),
        hint="a server-side error; check the Nomad servers' health and logs",
    )


def from_transport_error(error: BaseException, ctx: CallContext) -> MlctlError:
    """Map a failure where no HTTP answer arrived (connection, TLS, timeout)."""
    where = _where(getattr(error, "request", None), "a request")
    if isinstance(error, requests.exceptions.SSLError):
        what, hint = endpoint.tls_failure(endpoint.NOMAD, ctx.address, error)
        return Unreachable(f"{what} ({where})", hint=hint)
    if isinstance(error, requests.exceptions.Timeout | nomad_exc.TimeoutNomadException):
        return Unreachable(
            f"Nomad at {ctx.address} did not answer in time ({where})",
            hint="is NOMAD_ADDR right? is the server overloaded?",
        )
    return Unreachable(
        f"cannot reach Nomad at {ctx.address} ({where})", hint=_unreachable_hint(ctx.address)
    )


NO_CLUSTER_HINT = (
    "no cluster answers at this NOMAD_ADDR: start one on this machine with mlctl local up, "
    "or point mlctl at yours with mlctl context set NAME nomad_addr=https://HOST:4646 --use"
)


def _unreachable_hint(address: str) -> str:
    """On this machine (the default address, or the local runtime's), say how to get one."""
    host = (urlsplit(address).hostname or "").lower()
    if host in ("127.0.0.1", "localhost", "::1"):
        return NO_CLUSTER_HINT
    return "is NOMAD_ADDR right? is Nomad running?"


def translate(error: BaseException, ctx: CallContext) -> MlctlError | None:
    """The MlctlError for a python-nomad or requests exception, or None if it is neither."""
    if isinstance(error, requests.exceptions.JSONDecodeError):
        return Unreachable(
            f"Nomad at {ctx.address} answered with something that is not JSON",
            hint="is NOMAD_ADDR pointing at Nomad's HTTP API, not a proxy or web page?",
        )
    if isinstance(error, nomad_exc.BaseNomadException):
        payload = error.nomad_resp
        if isinstance(payload, requests.Response):
            return from_response(payload, ctx)
        if isinstance(payload, BaseException):
            return from_transport_error(payload, ctx)
        return Unreachable(f"Nomad at {ctx.address} failed: {payload}")
    if isinstance(error, nomad_exc.TimeoutNomadException | requests.exceptions.RequestException):
        return from_transport_error(error, ctx)
    return None
