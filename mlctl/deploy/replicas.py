"""Which replica count a deploy registers: the one decision, pure and in one place.

A new version must not silently undo a count someone set on the running job
(``mlctl scale``, an autoscaler, later a schedule). Like Levant, a deploy keeps the
live count unless told otherwise, and says so in one line:

1. ``--replicas N`` on the command line: N.
2. ``--reset-replicas``: the bundle's ``replicas``.
3. The job runs (is registered and not stopped): its live count.
4. Otherwise (a new or stopped job): the bundle's ``replicas``.

Schedules will add a rule (the count a schedule wants now) by extending
:func:`choose_replicas`; callers only read :class:`ReplicaChoice`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplicaChoice:
    """The count to register and, when it is not the bundle's, why (one line for people)."""

    count: int
    source: str  #: "flag", "bundle" or "live"
    note: str | None = None


def choose_replicas(
    bundle: int, *, flag: int | None, live: int | None, reset: bool = False
) -> ReplicaChoice:
    """The replica count to register; ``live`` is None when no running job exists."""
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
