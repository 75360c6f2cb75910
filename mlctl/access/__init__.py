"""What needs both Nomad and Vault: bootstrap, users, logins and model callers (above
nomad/ and vault/).

``mlctl.nomad`` and ``mlctl.vault`` are thin facades that never import each other; the
workflows that tie them together live here and are reached through
:mod:`mlctl.session`, which builds the clients. ``roles``, ``callers`` and
``policy_files`` are pure. Model callers (issue 15): ``grants`` and ``apps`` keep who
may call which model in Vault; ``model_tokens`` gets a person's bearer token.
"""
