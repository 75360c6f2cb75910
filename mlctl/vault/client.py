"""Build the hvac client from :class:`~mlctl.settings.Settings`, and pick its token.

TLS verification is on unless ``--skip-verify``/``VAULT_SKIP_VERIFY`` says otherwise
(and then mlctl warns once per process); ``--ca-cert``/``VAULT_CACERT`` names the CA.
Admin commands act with ``VAULT_TOKEN`` or, failing that, the token cached by
``mlctl login``; each gap gets its own clear message.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import hvac
import requests
from urllib3.exceptions import InsecureRequestWarning

from mlctl import __version__, redact
from mlctl.credentials import read_login
from mlctl.errors import AuthError, ConfigError
from mlctl.output import note
from mlctl.settings import Settings

#: Seconds a Vault call may take before it counts as unanswered.
TIMEOUT = 30

_warned_insecure = False


@dataclass(frozen=True)
class Vault:
    """An hvac client plus the address it talks to (for error messages)."""

    client: hvac.Client
    address: str


def normalise_address(address: str) -> str:
    parts = urlsplit(address.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"vault_addr: {address!r} is not an http(s) URL",
            hint="set VAULT_ADDR (or --vault-addr) like https://vault.example.com:8200",
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _verify(settings: Settings) -> bool | str:
    global _warned_insecure
    if settings.vault_skip_verify:
        if not _warned_insecure:
            note("warning: TLS verification for Vault is off: the server is not authenticated")
            _warned_insecure = True
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        return False
    if settings.vault_cacert:
        if not Path(settings.vault_cacert).is_file():
            raise ConfigError(
                f"vault_cacert: {settings.vault_cacert}: no such file",
                hint="point VAULT_CACERT (or --ca-cert) at a PEM CA bundle",
            )
        return str(settings.vault_cacert)
    return True


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


def acting_token(settings: Settings) -> str:
    """The Vault token admin commands act with: VAULT_TOKEN, else the cached login's."""
    if settings.vault_token:
        redact.register(settings.vault_token)
        return settings.vault_token
    login = read_login(settings)
    if login is None:
        raise AuthError(
            "not logged in to Vault", hint="run mlctl login (or set VAULT_TOKEN for bootstrap)"
        )
    if login.vault_expired():
        raise AuthError(
            f"the Vault token of {login.username} expired", hint="token expired — run mlctl login"
        )
    return login.vault_token
