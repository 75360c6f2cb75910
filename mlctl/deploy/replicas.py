"""Which replica count a deploy registers: the one decision, pure and in one place.

A new version must not silently undo a count someone set on the running job
(``mlctl scale``, an autoscaler, later a schedule). Like Levant, a deploy keeps the
live count unless told otherwise, and says so in one line:

1. ``--replicas N`` on the command line: N.
2. ``--reset-replicas``: the bundle's ``replicas``.
3. The model has a schedule (not paused): the count it wants now (or the manual count
   of an override in force); see :func:`mlctl.schedule.cli_hooks.for_deploy`.
4. The job runs (is registered and not stopped): its live count.
5. Otherwise (a new or stopped job): the bundle's ``replicas``.

With a schedule, ``--replicas N`` is an override until the schedule's next transition
and ``--reset-replicas`` changes nothing (the schedule derives from mlctl.yaml).
Callers only read :class:`ReplicaChoice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlctl.schedule.cli_hooks import ScheduledDeploy


@dataclass(frozen=True)
class ReplicaChoice:
    """The count to register and, when it is not the bundle's, why (one line for people)."""

    count: int
    source: str  #: "flag", "schedule", "bundle" or "live"
    note: str | None = None
    #: For a scheduled model: what the deploy stores once the plan is accepted.
    scheduled: ScheduledDeploy | None = None


def choose_replicas(
    bundle: int,
    *,
    flag: int | None,
    live: int | None,
    reset: bool = False,
    scheduled: ScheduledDeploy | None = None,
) -> ReplicaChoice:
    """The replica count to register; ``live`` is None when no running job exists."""
    if scheduled is not None:  # its count is the flag's when one was given
        return ReplicaChoice(
            scheduled.count, "flag" if flag is not None else "schedule", scheduled.note, scheduled
        )
    if flag is not None:
        return ReplicaChoice(flag, "flag")
    if reset or live is None:
        return ReplicaChoice(bundle, "bundle")
    if live == bundle:
        return ReplicaChoice(bundle, "bundle")
    return ReplicaChoice(
        live,
        "live",
        f"keeping the running count of {live} replicas (mlctl.yaml says {bundle}; "
        "--reset-replicas uses it, --replicas N sets another)",
    )
