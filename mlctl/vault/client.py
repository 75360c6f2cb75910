"""Build the hvac client from :class:`~mlctl.settings.Settings`, and pick its token.

TLS verification is on unless ``--skip-verify``/``VAULT_SKIP_VERIFY`` says otherwise
(and then mlctl warns once per process); ``--ca-cert``/``VAULT_CACERT`` names the CA.
Which token a client carries is decided by :mod:`mlctl.session`, never here.
"""

from __future__ import annotations

from dataclasses import dataclass

import hvac
import requests

from mlctl import __version__, endpoint, redact
from mlctl.settings import Settings

#: Seconds a Vault call may take before it counts as unanswered.
TIMEOUT = 30


@dataclass(frozen=True)
class Vault:
    """An hvac client plus the address it talks to (for error messages)."""

    client: hvac.Client
    address: str


def normalise_address(address: str) -> str:
    return endpoint.normalise_address(endpoint.VAULT, address)


def _verify(settings: Settings) -> bool | str:
    return endpoint.tls_verify(
        endpoint.VAULT, skip=settings.vault_skip_verify, cacert=settings.vault_cacert
    )


def connect(settings: Settings, token: str | None = None) -> Vault:
    """A client for the Vault named by ``settings``; no request is made yet."""
    address = normalise_address(settings.vault_addr)
    redact.register(token)
    session = requests.Session()
    session.headers["User-Agent"] = f"mlctl/{__version__}"
    # hvac prefers a given session's ``verify`` over its own argument: set both.
    session.verify = _verify(settings)
    client = hvac.Client(
        url=address, token=token, verify=session.verify, timeout=TIMEOUT, session=session
    )
    return Vault(client=client, address=address)
