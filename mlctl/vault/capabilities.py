"""sys/capabilities-self and the plugin catalog: what this token and this server can do."""

from __future__ import annotations

from mlctl.errors import NotFound, PermissionDenied
from mlctl.vault.client import Vault
from mlctl.vault.errors import vault_errors


def capabilities_self(vault: Vault, paths: list[str]) -> dict[str, set[str]]:
    """The calling token's capabilities on each path (``deny`` when it has none)."""
    with vault_errors("ask Vault what this token may do", vault.address):
        answer = vault.client.write_data("sys/capabilities-self", data={"paths": paths})
    data = answer.get("data") or answer
    return {path: set(data.get(path) or ["deny"]) for path in paths}


def builtin_secrets_engine(vault: Vault, kind: str) -> bool | None:
    """Whether the server's plugin catalog has secrets engine ``kind``; None if unknowable.

    OpenBao has no Nomad secrets engine; HashiCorp Vault ships one built in. Reading the
    catalog needs ``read`` and ``sudo`` on ``sys/plugins/catalog/secret/<kind>``.
    """
    try:
        with vault_errors(f"look up the {kind} secrets engine", vault.address):
            vault.client.adapter.get(f"/v1/sys/plugins/catalog/secret/{kind}")
    except NotFound:
        return False
    except PermissionDenied:
        return None
    return True
