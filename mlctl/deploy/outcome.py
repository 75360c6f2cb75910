"""How a deployment ended, and its progress per group, read from Nomad's Deployment.

Nomad decides: it marks a deployment ``successful`` or ``failed`` and, with
``auto_revert``, registers the last stable version again, saying so in the
``StatusDescription`` ("… - rolling back to job version 3"). Pure functions.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from mlctl.errors import ExitStatus
from mlctl.nomad.types import Deployment

_ROLLBACK = re.compile(r"rolling back to job version (\d+)", re.IGNORECASE)


class Outcome(StrEnum):
    SUCCESSFUL = "successful"
    FAILED = "failed"
    REVERTED = "reverted"
    AWAITING_PROMOTION = "awaiting-promotion"
    TIMED_OUT = "timed-out"
    UNCHANGED = "unchanged"
    DETACHED = "detached"

    @property
    def exit_status(self) -> ExitStatus:
        return {
            Outcome.FAILED: ExitStatus.DEPLOY_FAILED,
            Outcome.REVERTED: ExitStatus.DEPLOY_REVERTED,
            Outcome.TIMED_OUT: ExitStatus.TIMEOUT,
        }.get(self, ExitStatus.OK)


def rollback_version(deployment: Deployment) -> int | None:
    """The version Nomad rolled back to, when the description says it did."""
    match = _ROLLBACK.search(deployment.get("StatusDescription") or "")
    return int(match.group(1)) if match else None


def awaiting_promotion(deployment: Deployment) -> bool:
    """Every canary is placed and healthy, and a person must now promote them."""
    if deployment.get("Status") not in {"running", "pending"}:
        return False
    canary_groups = [
        g for g in (deployment.get("TaskGroups") or {}).values() if g.get("DesiredCanaries")
    ]
    return bool(canary_groups) and all(
        not g.get("Promoted")
        and not g.get("AutoPromote")
        and len(g.get("PlacedCanaries") or []) >= int(g.get("DesiredCanaries") or 0)
        and int(g.get("HealthyAllocs") or 0) >= int(g.get("DesiredCanaries") or 0)
        for g in canary_groups
    )


def settled(deployment: Deployment) -> Outcome | None:
    """The outcome once Nomad has decided, else None (still rolling out)."""
    status = deployment.get("Status")
    if status == "successful":
        return Outcome.SUCCESSFUL
    if status in {"failed", "cancelled"}:
        return Outcome.REVERTED if rollback_version(deployment) is not None else Outcome.FAILED
    if awaiting_promotion(deployment):
        return Outcome.AWAITING_PROMOTION
    return None


def progress_rows(deployment: Deployment) -> list[dict[str, Any]]:
    """Per task group: desired, placed, healthy, unhealthy and canaries."""
    rows = []
    for name, group in sorted((deployment.get("TaskGroups") or {}).items()):
        desired_canaries = int(group.get("DesiredCanaries") or 0)
        canaries = "-"
        if desired_canaries:
            placed = len(group.get("PlacedCanaries") or [])
            canaries = f"{placed}/{desired_canaries}" + (
                " promoted" if group.get("Promoted") else ""
            )
        rows.append(
            {
                "group": name,
                "desired": int(group.get("DesiredTotal") or 0),
                "placed": int(group.get("PlacedAllocs") or 0),
                "healthy": int(group.get("HealthyAllocs") or 0),
                "unhealthy": int(group.get("UnhealthyAllocs") or 0),
                "canaries": canaries,
            }
        )
    return rows
