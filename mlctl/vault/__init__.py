"""Thin typed facade over hvac: one module per Vault resource, one error mapper.

Resource modules (``auth_methods``, ``mounts``, ``policies``, ``userpass``, ``approle``,
``tokens``, ``leases``, ``nomad_engine``) build one call each and run it inside
:func:`mlctl.vault.errors.vault_errors`. The workflows on top (``bootstrap``, ``users``,
``session``) combine them; ``roles`` and ``policy_files`` are pure.
"""
