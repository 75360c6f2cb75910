"""sys/leases: renew one lease; revoke every lease under a prefix."""

from __future__ import annotations

from mlctl.vault.client import Vault
from mlctl.vault.errors import vault_errors


def renew(vault: Vault, lease_id: str) -> int:
    """Renew a lease; returns its new duration in seconds."""
    with vault_errors("renew the Nomad token lease", vault.address):
        answer = vault.client.sys.renew_lease(lease_id)
    return int(answer["lease_duration"])


def revoke_prefix(vault: Vault, prefix: str) -> None:
    """Revoke every secret lease and token issued under ``prefix`` (needs sudo)."""
    with vault_errors(f"revoke the leases under {prefix}", vault.address):
        vault.client.sys.revoke_prefix(prefix)
