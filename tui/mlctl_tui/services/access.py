"""Read what the user's Nomad token allows (``/v1/acl/token/self`` and its policies).

Policies are parsed by the same evaluator the local engine enforces them with
(:mod:`mlctl.local.engine.acl`), so "offered" and "allowed" agree. Anything that cannot
be read leaves the abilities unknown: every action is offered and Nomad decides.
"""

from __future__ import annotations

from typing import Any, Protocol

from mlctl.errors import InvalidInput, MlctlError
from mlctl_tui.core.permissions import Abilities


class TokenReader(Protocol):
    def token_self(self) -> dict[str, Any]: ...

    def policy_rules(self, name: str) -> str: ...


def read_abilities(backend: TokenReader, readonly: bool) -> Abilities:
    """The user's abilities; never raises for Nomad's answers."""
    from mlctl.local.engine.acl import Grant, parse_policy
    from mlctl.local.engine.hclparse import ParseError

    if readonly:
        return Abilities(readonly=True, source="--readonly")
    try:
        token = backend.token_self()
    except InvalidInput as error:
        if "acl support disabled" in error.message.lower():
            return Abilities(source="Nomad's ACLs are disabled: everything is allowed")
        return Abilities(source=f"unknown ({error.one_line()})")
    except MlctlError as error:
        return Abilities(source=f"unknown ({error.one_line()})")
    name = str(token.get("Name") or "")
    if token.get("Type") == "management":
        return Abilities(source="management token: everything is allowed", identity=name)
    if token.get("Roles"):
        return Abilities(source="token with ACL roles: not evaluated, Nomad decides", identity=name)
    policies = []
    names = [str(p) for p in token.get("Policies") or []]
    for policy in names:
        try:
            policies.append(parse_policy(backend.policy_rules(policy)))
        except (MlctlError, ParseError) as error:
            return Abilities(
                source=f"policy {policy} unreadable ({error}): Nomad decides", identity=name
            )
    grant = Grant(management=False, policies=policies)
    listed = ", ".join(names) or "none"
    return Abilities(grant=grant, source=f"token policies: {listed}", identity=name)
