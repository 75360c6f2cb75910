"""sys/mounts: which secrets engines are mounted, and mounting one."""

from __future__ import annotations

from typing import Any

from mlctl.vault.client import Vault
from mlctl.vault.errors import vault_errors


def mounted_engines(vault: Vault) -> dict[str, str]:
    """Mount path (without the trailing slash) -> secrets engine type."""
    with vault_errors("list Vault secrets engines", vault.address):
        answer = vault.client.sys.list_mounted_secrets_engines()
    return types_by_path(answer)


def types_by_path(answer: dict[str, Any]) -> dict[str, str]:
    """A sys/mounts or sys/auth listing as mount path (no trailing slash) -> type.

    Vault answers with the mounts both under ``data`` and at the top level; older
    servers only at the top level.
    """
    data = answer.get("data", answer)
    return {
        path.rstrip("/"): str(entry.get("type"))
        for path, entry in data.items()
        if isinstance(entry, dict) and "type" in entry
    }


def mount_engine(vault: Vault, kind: str, path: str, description: str) -> None:
    with vault_errors(f"mount the {kind} secrets engine at {path}/", vault.address):
        vault.client.sys.enable_secrets_engine(kind, path=path, description=description)
