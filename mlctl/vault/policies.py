"""sys/policies/acl: read, write, list and delete Vault ACL policies."""

from __future__ import annotations

from mlctl.errors import NotFound
from mlctl.vault.client import Vault
from mlctl.vault.errors import vault_errors


def read_policy(vault: Vault, name: str) -> str | None:
    """The policy text, or None when there is no such policy."""
    try:
        with vault_errors(f"read Vault policy {name}", vault.address):
            answer = vault.client.sys.read_acl_policy(name)
    except NotFound:
        return None
    return str(answer["data"]["policy"])


def write_policy(vault: Vault, name: str, text: str) -> None:
    with vault_errors(f"write Vault policy {name}", vault.address):
        vault.client.sys.create_or_update_acl_policy(name, text, pretty_print=False)


def delete_policy(vault: Vault, name: str) -> None:
    with vault_errors(f"delete Vault policy {name}", vault.address):
        vault.client.sys.delete_acl_policy(name)


def list_policies(vault: Vault) -> list[str]:
    with vault_errors("list Vault policies", vault.address):
        answer = vault.client.sys.list_acl_policies()
    return [str(k) for k in answer["data"]["keys"]]
