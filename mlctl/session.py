"""The composition root: Settings -> credentials -> Nomad and Vault clients.

Every entry point (the CLI, the monitor, the TUI, the local runtime) builds its clients
here, so the choice of token — NOMAD_TOKEN, a cached ``mlctl login`` renewed on the way,
or none — is made in one place.  ``mlctl.nomad`` and ``mlctl.vault`` never import each
other; what needs both lives above them and is wired together here.
"""

from __future__ import annotations

from urllib3.util.retry import Retry

from mlctl.credentials import resolve_nomad_token
from mlctl.nomad.client import NomadClient
from mlctl.nomad.client import connect as connect_nomad
from mlctl.nomad.transport import DEFAULT_TIMEOUT
from mlctl.settings import Settings
from mlctl.vault.client import Vault, acting_token
from mlctl.vault.client import connect as connect_vault


def nomad_client(
    settings: Settings, *, retry: Retry | None = None, timeout: float = DEFAULT_TIMEOUT
) -> NomadClient:
    """A Nomad client acting as the user: NOMAD_TOKEN, else their live cached login."""
    return connect_nomad(
        settings, token=resolve_nomad_token(settings), retry=retry, timeout=timeout
    )


def nomad_client_with_token(settings: Settings, token: str | None) -> NomadClient:
    """A Nomad client sending exactly ``token`` (a management token, a fresh login's)."""
    return connect_nomad(settings, token=token)


def vault_client(settings: Settings) -> Vault:
    """A Vault client acting as the user: VAULT_TOKEN, else their cached login's token."""
    return connect_vault(settings, acting_token(settings))
