"""A strict, in-memory simulator of the Vault HTTP API, for what mlctl calls.

Shapes, status codes and error bodies follow hashicorp/vault ``website/content/api-docs``
(sys/auth, sys/mounts, sys/policies/acl, sys/leases, auth/token, auth/userpass,
auth/approle, secret/nomad). Every authenticated request is checked against the
token's HCL policies the way Vault does (path globs, ``+`` segments, priority rules,
``deny``, ``sudo`` on root-protected paths). The Nomad secrets engine mints real ACL
tokens in a Nomad (simulator or agent) over HTTP, so Nomad enforces what Vault hands out.

Start it standalone with ``python -m tests.simulators.vault --port 8200``.
"""

from tests.simulators.vault.server import VaultSimulator

__all__ = ["VaultSimulator"]
