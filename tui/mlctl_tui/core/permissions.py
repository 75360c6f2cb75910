"""What the user may do, as far as it is knowable: the TUI offers only that (pure).

Nomad answers ``GET /v1/acl/token/self`` with the token's policies; their rules decide
each action. When that cannot be known (ACLs disabled: everything is allowed; roles or
unreadable policies: unknown), every action is offered and Nomad's answer decides.
``--readonly`` refuses everything, whatever the token allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Grant(Protocol):
    """The evaluator of a token's policies (``mlctl.local.engine.acl.Grant``)."""

    def allow_namespace(self, namespace: str, capability: str) -> bool: ...

    def allow_coarse(self, area: str, level: str) -> bool: ...

    def allow_variable(self, namespace: str, path: str, capability: str) -> bool: ...


#: Action -> what Nomad checks for it (any one of the capabilities suffices).
NAMESPACE_NEEDS: dict[str, tuple[str, ...]] = {
    "scale": ("scale-job", "submit-job"),
    "start": ("submit-job",),
    "stop": ("submit-job",),
    "restart": ("alloc-lifecycle",),
    "stop-alloc": ("alloc-lifecycle",),
    "promote": ("submit-job",),
    "rollback": ("submit-job",),
    "logs": ("read-logs",),
}
NODE_ACTIONS = frozenset({"drain", "eligibility"})
#: Actions that only read: still offered with ``--readonly``.
READ_ACTIONS = frozenset({"logs"})
#: Action -> the Nomad Variable path it writes (``{model}`` / ``{fingerprint}`` filled in).
VARIABLE_NEEDS = {
    "schedule": "mlctl/schedules/{model}",
    "alert-note": "mlctl/alerts/notes/{fingerprint}",
}
ACTIONS = frozenset(NAMESPACE_NEEDS) | NODE_ACTIONS | frozenset(VARIABLE_NEEDS)


@dataclass(frozen=True)
class Abilities:
    """Answers "may the user do this here?" for the TUI's actions."""

    readonly: bool = False
    grant: Grant | None = None  #: None: unknown (or ACLs off), so everything is offered
    source: str = "unknown"  #: how it was decided, for the help screen
    identity: str = ""  #: the token's name, when known

    def allows(self, action: str, namespace: str = "default", **names: str) -> bool:
        if action not in ACTIONS:
            raise KeyError(f"unknown action {action!r}")
        if self.readonly and action not in READ_ACTIONS:
            return False
        if self.grant is None:
            return True
        if action in NODE_ACTIONS:
            return self.grant.allow_coarse("node", "write")
        if action in VARIABLE_NEEDS:
            path = VARIABLE_NEEDS[action].format(
                model=names.get("model", "x"), fingerprint=names.get("fingerprint", "x")
            )
            return self.grant.allow_variable(namespace, path, "write")
        return any(self.grant.allow_namespace(namespace, c) for c in NAMESPACE_NEEDS[action])

    def why_not(self, action: str, namespace: str = "default") -> str:
        """The plain-words reason an action is not offered."""
        if self.readonly:
            return "the TUI runs with --readonly: no action changes the cluster"
        where = "on nodes" if action in NODE_ACTIONS else f"in namespace {namespace}"
        return f"your Nomad token's policies do not allow {action} {where}"


EVERYTHING = Abilities(source="not checked")
