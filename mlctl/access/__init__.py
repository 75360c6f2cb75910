"""What needs both Nomad and Vault: bootstrap, users and logins (above nomad/ and vault/).

``mlctl.nomad`` and ``mlctl.vault`` are thin facades that never import each other; the
workflows that tie them together live here and are reached through
:mod:`mlctl.session`, which builds the clients. ``roles`` and ``policy_files`` are pure.
"""
