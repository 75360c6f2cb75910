"""How mlctl reaches an HTTP API it is configured for (Nomad, Vault): address and TLS.

Both clients decide these the same way, so they share this module: an address must be
an http(s) URL, TLS verification is on unless the user turns it off (then mlctl warns
once per service and process), and a named CA bundle must exist.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from urllib3.exceptions import InsecureRequestWarning

from mlctl.errors import ConfigError
from mlctl.output import note


@dataclass(frozen=True)
class Service:
    """What error messages need to name a service's settings."""

    label: str  #: "Nomad"
    prefix: str  #: "nomad": settings are <prefix>_addr, <prefix>_cacert
    example: str  #: an example address for hints

    @property
    def env(self) -> str:
        return self.prefix.upper()


NOMAD = Service("Nomad", "nomad", "https://nomad.example.com:4646")
VAULT = Service("Vault", "vault", "https://vault.example.com:8200")

_warned_insecure: set[str] = set()


def normalise_address(service: Service, address: str) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash, or a ConfigError."""
    parts = urlsplit(address.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"{service.prefix}_addr: {address!r} is not an http(s) URL",
            hint=f"set {service.env}_ADDR (or --{service.prefix}-addr) like {service.example}",
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def tls_verify(service: Service, *, skip: bool, cacert: str | None) -> bool | str:
    """The ``verify`` value for requests: True, a CA bundle path, or False (with a warning)."""
    if skip:
        if service.prefix not in _warned_insecure:
            note(
                f"warning: TLS verification for {service.label} is off: "
                "the server is not authenticated"
            )
            _warned_insecure.add(service.prefix)
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        return False
    if cacert:
        if not Path(cacert).is_file():
            raise ConfigError(
                f"{service.prefix}_cacert: {cacert}: no such file",
                hint=f"point {service.env}_CACERT (or --ca-cert) at a PEM CA bundle",
            )
        return str(cacert)
    return True


#: What OpenSSL says when the other end answered a TLS hello in plain text (HTTP).
_PLAIN_HTTP_SIGNS = (
    "wrong_version_number",
    "wrong version number",
    "record layer failure",
    "packet length too long",
    "unknown protocol",
)


def speaks_plain_http(error: BaseException) -> bool:
    """Whether a TLS failure means the server answered in plain HTTP (an https:// typo)."""
    text = str(error).lower()
    return any(sign in text for sign in _PLAIN_HTTP_SIGNS)


def tls_failure(service: Service, address: str, error: BaseException) -> tuple[str, str]:
    """What went wrong with TLS and what to do: use http://, or name the signing CA."""
    if speaks_plain_http(error) and address.startswith("https://"):
        plain = "http://" + address.removeprefix("https://")
        return (
            f"TLS handshake failed: {service.label} at {address} answers in plain HTTP",
            f"use {service.env}_ADDR={plain} or --{service.prefix}-addr {plain}",
        )
    return (
        f"TLS verification failed for {service.label} at {address}",
        f"point {service.env}_CACERT (or --ca-cert) at the CA bundle that signed its certificate",
    )
