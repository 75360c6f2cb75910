"""sys/auth: which auth methods are enabled, and enabling one."""

from __future__ import annotations

from mlctl.vault.client import Vault
from mlctl.vault.errors import vault_errors
from mlctl.vault.mounts import types_by_path


def enabled_auth_methods(vault: Vault) -> dict[str, str]:
    """Mount path (without the trailing slash) -> auth method type."""
    with vault_errors("list Vault auth methods", vault.address):
        answer = vault.client.sys.list_auth_methods()
    return types_by_path(answer)


def enable_auth_method(vault: Vault, kind: str, path: str, description: str) -> None:
    with vault_errors(f"enable the {kind} auth method at auth/{path}", vault.address):
        vault.client.sys.enable_auth_method(kind, path=path, description=description)
