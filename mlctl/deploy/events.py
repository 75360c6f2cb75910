"""Why an allocation failed, in plain words, from its tasks' events.

Nomad records each task's history as events (``TaskStates[task].Events``). A failed
rollout is explained by a few of them: a driver error (image not found), a failed
bundle download, an exit code, an OOM kill, "not restarting" after too many
restarts, or the deployment marking the allocation unhealthy. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlctl.nomad.types import Allocation, TaskEvent

_OOM_MARKERS = ("oom killed", "oom_killed", "out of memory")


def _is_oom(event: TaskEvent) -> bool:
    details = event.get("Details") or {}
    if str(details.get("oom_killed", "")).lower() == "true":
        return True
    text = f"{event.get('DisplayMessage', '')} {event.get('Message', '')}".lower()
    return any(marker in text for marker in _OOM_MARKERS)


def event_words(event: TaskEvent) -> str | None:
    """One event as a phrase, or None when it says nothing about a failure."""
    kind = event.get("Type", "")
    display = event.get("DisplayMessage") or event.get("Message") or ""
    if kind == "Terminated":
        if _is_oom(event):
            return "killed: out of memory (raise resources.memory)"
        code = int(event.get("ExitCode") or 0)
        signal = int(event.get("Signal") or 0)
        if signal:
            return f"killed by signal {signal}"
        return f"exited with code {code}" if code else None
    if kind == "Driver Failure":
        return f"driver error: {event.get('DriverError') or display}"
    if kind == "Failed Artifact Download":
        return f"could not download the bundle: {event.get('DownloadError') or display}"
    if kind == "Setup Failure":
        return f"task setup failed: {event.get('SetupError') or display}"
    if kind == "Failed Validation":
        return f"task is invalid: {event.get('ValidationError') or display}"
    if kind == "Not Restarting":
        return f"not restarting: {display}" if display else "not restarting"
    if kind == "Alloc Unhealthy":
        return f"unhealthy: {display}" if display else "unhealthy"
    if kind == "Killing" and event.get("KillError"):
        return f"could not be stopped: {event.get('KillError')}"
    if kind in {"Task hook failed", "Template failure"}:
        return f"{kind.lower()}: {display}"
    return None


@dataclass(frozen=True)
class AllocFailure:
    alloc_id: str
    node: str
    task: str
    status: str
    reasons: list[str]

    @property
    def text(self) -> str:
        why = "; ".join(self.reasons) or self.status
        node = self.node or "an unknown node"
        return f"alloc {self.alloc_id[:8]} on {node} (task {self.task}): {why}"


def describe_failure(alloc: Allocation) -> list[AllocFailure]:
    """What went wrong in each task of ``alloc`` (deduplicated, in event order)."""
    failures = []
    for task, state in sorted((alloc.get("TaskStates") or {}).items()):
        reasons: list[str] = []
        for event in state.get("Events") or []:
            words = event_words(event)
            if words and words not in reasons:
                reasons.append(words)
        if reasons or state.get("Failed"):
            failures.append(
                AllocFailure(
                    alloc_id=alloc.get("ID", ""),
                    node=alloc.get("NodeName") or alloc.get("NodeID", "")[:8],
                    task=task,
                    status=alloc.get("ClientStatus", ""),
                    reasons=reasons or [f"task failed ({state.get('State', 'dead')})"],
                )
            )
    if not failures and alloc.get("ClientStatus") == "failed":
        description = alloc.get("ClientDescription") or "failed"
        failures.append(
            AllocFailure(
                alloc.get("ID", ""), alloc.get("NodeName", ""), "-", "failed", [description]
            )
        )
    return failures


def is_failing(alloc: Allocation) -> bool:
    """An allocation that failed or that the deployment judged unhealthy."""
    health = (alloc.get("DeploymentStatus") or {}).get("Healthy")
    return alloc.get("ClientStatus") in {"failed", "lost"} or health is False
