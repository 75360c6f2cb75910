"""The one action layer: every change the TUI makes to the cluster passes here.

An action is prepared first (:class:`Prepared`: the :class:`~mlctl_tui.core.plans.Plan`
the confirmation shows, and the call that carries it out), confirmed by the operator,
then executed on a worker thread by :meth:`ActionLayer.execute`, which

- refuses everything in ``--readonly`` mode (the UI hides the actions too);
- runs the call (the backend: mlctl's lifecycle functions and Nomad facade);
- turns a failure into :class:`ActionFailed` with a title and a message in plain words
  (what was being done, and Nomad's answer);
- writes the audit trail: who, what, on what, when, and the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mlctl.errors import AuthError, MlctlError, PermissionDenied
from mlctl_tui.core.plans import Plan
from mlctl_tui.services.audit import AuditTrail


@dataclass(frozen=True)
class Prepared:
    """A confirmed-or-not action: what it will do and how."""

    plan: Plan
    target: Mapping[str, str]
    call: Callable[[], str] = field(repr=False)


class ActionFailed(Exception):
    """An action did not happen (or not fully); ``title`` and ``message`` for the modal."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(message)
        self.title = title
        self.message = message


class ReadOnly(ActionFailed):
    def __init__(self, plan: Plan) -> None:
        super().__init__(
            "Read-only mode",
            f"{plan.title} was refused: the TUI runs with --readonly and changes nothing.",
        )


def plain_words(plan: Plan, error: MlctlError) -> ActionFailed:
    """What was tried and what Nomad answered, for people rather than logs."""
    tried = plan.text.split(":", 1)[0]
    if isinstance(error, PermissionDenied):
        message = (
            f"Nomad refused to {tried}: permission denied. Your token's policies do not allow "
            f"this here; ask an operator for access.\n\nNomad said: {error.message}"
        )
        return ActionFailed("Permission denied", message)
    if isinstance(error, AuthError):
        return ActionFailed(
            "Not logged in", f"Nomad did not accept your token to {tried}: {error.one_line()}"
        )
    title = error.title[:1].upper() + error.title[1:]
    return ActionFailed(title, f"Could not {tried}: {error.one_line()}")


class ActionLayer:
    """Executes prepared actions (see the module docstring)."""

    def __init__(self, audit: AuditTrail, actor: Callable[[], str], readonly: bool = False) -> None:
        self.audit = audit
        self.readonly = readonly
        self._actor = actor

    def execute(self, prepared: Prepared) -> str:
        """Run it; the result line, or ActionFailed. Blocks: call from a worker thread."""
        plan = prepared.plan
        who = self._who()
        if self.readonly:
            refusal = ReadOnly(plan)
            self.audit.record(
                who, plan.action, prepared.target, plan.text, "refused", refusal.message
            )
            raise refusal
        try:
            message = prepared.call()
        except ActionFailed as failure:
            self.audit.record(
                who, plan.action, prepared.target, plan.text, "failed", failure.message
            )
            raise
        except MlctlError as error:
            explained = plain_words(plan, error)
            self.audit.record(
                who, plan.action, prepared.target, plan.text, "failed", explained.message
            )
            raise explained from error
        except Exception as error:  # a bug: still recorded, still shown, never silent
            text = f"{type(error).__name__}: {error}"
            self.audit.record(who, plan.action, prepared.target, plan.text, "failed", text)
            raise ActionFailed(f"{plan.title} failed unexpectedly", text) from error
        self.audit.record(who, plan.action, prepared.target, plan.text, "ok", message)
        return message

    def _who(self) -> str:
        try:
            return self._actor()
        except Exception:  # who we are must never block recording what we did
            return "unknown"
