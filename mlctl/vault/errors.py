"""The one place where hvac and requests exceptions become :class:`~mlctl.errors.MlctlError`.

Messages carry Vault's own ``errors`` text and the action that failed, never the
request URL (hvac's ``str()`` adds it, and a login URL names the user) and never a
token. A 403 from Vault means "this token may not do that" *or* "this token is no
longer valid"; callers that can tell the two apart (``session``) say which.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import hvac.exceptions as hvac_exc
import requests

from mlctl import endpoint
from mlctl.errors import (
    AuthError,
    InvalidInput,
    MlctlError,
    NotFound,
    PermissionDenied,
    Unreachable,
)

if TYPE_CHECKING:
    from mlctl.vault.client import Vault


def _detail(error: hvac_exc.VaultError) -> str:
    errors = [str(e).strip() for e in (error.errors or []) if str(e).strip()]
    return "; ".join(" ".join(e.split()) for e in errors)


def translate(error: BaseException, action: str, address: str) -> MlctlError | None:
    """The MlctlError for an hvac/requests exception raised while doing ``action``."""
    if isinstance(error, hvac_exc.VaultError):
        detail = _detail(error)
        if isinstance(error, hvac_exc.Forbidden):
            return PermissionDenied(
                f"{action}: permission denied by Vault",
                hint="your Vault policies do not allow this; ask an mlctl admin",
            )
        if isinstance(error, hvac_exc.Unauthorized):
            return AuthError(f"{action}: Vault refused the credentials", hint="run mlctl login")
        if isinstance(error, hvac_exc.InvalidPath):
            return NotFound(f"{action}: not found in Vault" + (f": {detail}" if detail else ""))
        if isinstance(error, hvac_exc.InvalidRequest):
            return InvalidInput(f"{action}: Vault rejected the request: {detail or 'bad request'}")
        if isinstance(error, hvac_exc.VaultDown | hvac_exc.VaultNotInitialized):
            return Unreachable(
                f"{action}: Vault at {address} is sealed or not initialised",
                hint="unseal Vault (vault operator unseal) and retry",
            )
        return Unreachable(
            f"{action}: Vault at {address} failed" + (f": {detail}" if detail else ""),
            hint="a server-side error; check Vault's (and Nomad's) health and logs",
        )
    if isinstance(error, requests.exceptions.SSLError):
        what, hint = endpoint.tls_failure(endpoint.VAULT, address, error)
        return Unreachable(f"{action}: {what}", hint=hint)
    if isinstance(error, requests.exceptions.Timeout):
        return Unreachable(
            f"{action}: Vault at {address} did not answer in time",
            hint="is VAULT_ADDR right? is Vault overloaded?",
        )
    if isinstance(error, requests.exceptions.RequestException):
        return Unreachable(
            f"{action}: cannot reach Vault at {address}",
            hint="is VAULT_ADDR (or --vault-addr) right? is Vault running?",
        )
    return None


@contextmanager
def vault_errors(action: str, address: str) -> Iterator[None]:
    """Run a block of Vault calls; known failures leave as one MlctlError."""
    try:
        yield
    except MlctlError:
        raise
    except Exception as error:
        mapped = translate(error, action, address)
        if mapped is None:
            raise
        raise mapped from error


def read_or_none(vault: Vault, api_path: str, action: str) -> dict[str, Any] | None:
    """GET one Vault path's ``data``; None when Vault answers 404 (not configured yet)."""
    try:
        with vault_errors(action, vault.address):
            answer = vault.client.adapter.get(api_path)
    except NotFound:
        return None
    data: dict[str, Any] = answer["data"]
    return data
