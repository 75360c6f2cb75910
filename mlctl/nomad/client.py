"""Build the Nomad client from :class:`~mlctl.settings.Settings`.

Everything about *how* mlctl talks to Nomad is decided here once: the address, TLS
(verification on by default, a custom CA, optional client certificate), the token,
namespace and region, the retry policy and the user agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import nomad
import requests
from urllib3.util.retry import Retry

from mlctl import __version__, endpoint, redact
from mlctl.errors import ConfigError
from mlctl.nomad.allocations import Allocations
from mlctl.nomad.deployments import Deployments
from mlctl.nomad.errors import CallContext
from mlctl.nomad.evaluations import Evaluations
from mlctl.nomad.jobs import Jobs
from mlctl.nomad.logs import Logs
from mlctl.nomad.nodes import Nodes
from mlctl.nomad.retry import mount_retries, read_retry
from mlctl.nomad.services import Services
from mlctl.nomad.transport import DEFAULT_TIMEOUT, Transport
from mlctl.nomad.variables import Variables
from mlctl.settings import Settings


@dataclass(frozen=True)
class NomadClient:
    """The facade: one attribute per API resource, all sharing one transport."""

    transport: Transport
    jobs: Jobs
    deployments: Deployments
    allocations: Allocations
    evaluations: Evaluations
    nodes: Nodes
    services: Services
    logs: Logs
    variables: Variables

    @property
    def namespace(self) -> str:
        return self.transport.namespace

    @property
    def address(self) -> str:
        return self.transport.ctx.address


def normalise_address(address: str) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash, or a ConfigError."""
    return endpoint.normalise_address(endpoint.NOMAD, address)


def _verify(settings: Settings) -> bool | str:
    return endpoint.tls_verify(
        endpoint.NOMAD, skip=settings.nomad_skip_verify, cacert=settings.nomad_cacert
    )


def _client_cert(settings: Settings) -> tuple[str, str] | tuple[()]:
    cert, key = settings.nomad_client_cert, settings.nomad_client_key
    if bool(cert) != bool(key):
        raise ConfigError(
            "nomad_client_cert and nomad_client_key must be set together",
            hint="set both NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY, or neither",
        )
    return (cert, key) if cert and key else ()


def connect(
    settings: Settings,
    *,
    token: str | Literal["settings"] | None = "settings",  # noqa: S107 - a sentinel
    retry: Retry | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> NomadClient:
    """A client for the Nomad named by ``settings``, sending ``token``; no request is made yet.

    ``token="settings"`` sends ``settings.nomad_token``.  Whether a cached login's token
    is sent instead is decided by the composition root, :mod:`mlctl.session`; this module
    never reads credentials itself.
    """
    address = normalise_address(settings.nomad_addr)
    if token == "settings":  # noqa: S105 - the sentinel, not a secret
        token = settings.nomad_token
    redact.register(token)
    session = requests.Session()
    session.headers["User-Agent"] = f"mlctl/{__version__}"
    mount_retries(session, retry if retry is not None else read_retry())
    api = nomad.Nomad(
        address=address,
        token=token,
        namespace=settings.nomad_namespace,
        region=settings.nomad_region,
        verify=_verify(settings),
        cert=_client_cert(settings) or ("", ""),  # ("", "") keeps python-nomad off the env
        timeout=int(timeout),
        session=session,
    )
    transport = Transport(api, CallContext(address=address, token_sent=bool(token)), timeout)
    return NomadClient(
        transport=transport,
        jobs=Jobs(transport),
        deployments=Deployments(transport),
        allocations=Allocations(transport),
        evaluations=Evaluations(transport),
        nodes=Nodes(transport),
        services=Services(transport),
        logs=Logs(transport),
        variables=Variables(transport),
    )
