"""Automatic actions, decided (pure): restart, scale, revert.

Every action is opt-in per model in its ``alerts.actions`` section and is decided from
firing alerts and probe metrics plus the model's action history (what was done, when),
which the executor keeps in Nomad Variables. So the same decision is never taken
twice: not within a cool-down, not beyond a bound, not after a monitor restart.

- **restart** a crash-looping allocation (its ``ModelCrashLooping`` alert fires): at
  most ``max_restarts`` times per allocation, ``cooldown`` apart.
- **scale** between ``min`` and ``max`` replicas: up by ``step`` when in-flight
  requests per replica or p99 stay above target for ``intervals`` consecutive probes,
  down by ``step`` when they stay under ``scale_down_below`` x target as long; never
  within ``cooldown`` of the last scaling, and never a model someone stopped (count 0
  belongs to the operator or a schedule). A refusal because a deployment is running
  (Nomad answers 400) is retried at the next interval while the load persists.
- **revert** a failed deployment Nomad did not roll back itself (no ``auto_revert``)
  to the last stable version, once per failed deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mlctl.bundle.alerts import Actions, ScaleAction
from mlctl.monitor.views import Alert, ModelKey, ModelView


@dataclass(frozen=True)
class Action:
    kind: str  # restart | scale | revert
    key: ModelKey
    model: str
    reason: str
    alert: str = ""  # the alert that caused it: "<alertname> <fingerprint>"
    alloc_id: str = ""
    group: str = ""
    count: int = 0  # scale: the new count; revert: the failed job version
    deployment_id: str = ""

    def describe(self) -> str:
        if self.kind == "restart":
            return f"restart allocation {self.alloc_id[:8]} of {self.model}"
        if self.kind == "scale":
            return f"scale {self.model} to {self.count}"
        return f"revert {self.model} from failed version {self.count} to the last stable one"


@dataclass
class History:
    """What was done to one model (persisted by the executor)."""

    restarts: dict[str, dict[str, Any]] = field(default_factory=dict)  # alloc -> count, last
    scaled_at: str | None = None
    reverted: dict[str, str] = field(default_factory=dict)  # deployment id -> when

    def to_dict(self) -> dict[str, Any]:
        return {"restarts": self.restarts, "scaledAt": self.scaled_at, "reverted": self.reverted}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> History:
        data = data or {}
        return cls(
            restarts={k: dict(v) for k, v in dict(data.get("restarts") or {}).items()},
            scaled_at=data.get("scaledAt"),
            reverted=dict(data.get("reverted") or {}),
        )


def _since(stamp: str | None, now: datetime) -> float:
    if not stamp:
        return float("inf")
    return (now - datetime.fromisoformat(stamp)).total_seconds()


@dataclass
class _Load:
    over: int = 0
    under: int = 0
    probe_at: datetime | None = None


class Planner:
    """Decides actions each interval; keeps only the sustained-load counters."""

    def __init__(self) -> None:
        self._load: dict[ModelKey, _Load] = {}

    def plan(
        self,
        models: Iterable[ModelView],
        firing: Iterable[Alert],
        now: datetime,
        actions_for: Callable[[ModelView], Actions],
        history_for: Callable[[ModelKey], History],
    ) -> list[Action]:
        alerts = list(firing)
        out: list[Action] = []
        for model in models:
            actions = actions_for(model)
            if actions.restart is None and actions.scale is None and actions.revert is None:
                continue
            mine = [
                a
                for a in alerts
                if a.labels.get("namespace") == model.namespace
                and a.labels.get("job") == model.job_id
            ]
            history = history_for(model.key)
            out += self._restarts(model, actions, mine, history, now)
            out += self._revert(model, actions, mine, history, now)
            if actions.scale is not None:
                out += self._scale(model, actions.scale, history, now)
        return out

    @staticmethod
    def _restarts(
        model: ModelView, actions: Actions, alerts: list[Alert], history: History, now: datetime
    ) -> list[Action]:
        rule = actions.restart
        if rule is None:
            return []
        live = {a.id for a in model.live_allocations}
        out = []
        for alert in alerts:
            alloc = alert.labels.get("alloc", "")
            if alert.name != "ModelCrashLooping" or alloc not in live:
                continue
            done = history.restarts.get(alloc, {})
            if int(done.get("count", 0)) >= rule.max_restarts:
                continue
            if _since(done.get("last"), now) < rule.cooldown:
                continue
            out.append(
                Action(
                    "restart",
                    model.key,
                    model.name,
                    f"crash loop: {alert.annotations.get('description', '')}",
                    f"{alert.name} {alert.fingerprint}",
                    alloc_id=alloc,
                )
            )
        return out

    @staticmethod
    def _revert(
        model: ModelView, actions: Actions, alerts: list[Alert], history: History, now: datetime
    ) -> list[Action]:
        rule = actions.revert
        dep = model.failed_deployment
        if rule is None or dep is None or dep.id in history.reverted:
            return []
        if "rolling back" in dep.description.lower():
            return []  # Nomad's auto_revert already did it
        alert = next((a for a in alerts if a.name == "ModelDeploymentFailed"), None)
        if alert is None or alert.labels.get("deployment") != dep.id:
            return []
        if any(_since(t, now) < rule.cooldown for t in history.reverted.values()):
            return []
        return [
            Action(
                "revert",
                model.key,
                model.name,
                f"deployment failed: {dep.description}",
                f"{alert.name} {alert.fingerprint}",
                count=dep.job_version,
                deployment_id=dep.id,
            )
        ]

    def _scale(
        self, model: ModelView, rule: ScaleAction, history: History, now: datetime
    ) -> list[Action]:
        probe = model.probe
        load = self._load.setdefault(model.key, _Load())
        if model.stopped or model.desired <= 0 or probe is None:
            load.over = load.under = 0
            return []
        if probe.at != load.probe_at:  # count each probe once
            load.probe_at = probe.at
            over, under = _judge(model, rule)
            load.over = load.over + 1 if over else 0
            load.under = load.under + 1 if under else 0
        if _since(history.scaled_at, now) < rule.cooldown:
            return []
        if load.over >= rule.intervals and model.desired < rule.max:
            target = min(rule.max, model.desired + rule.step)
            why = f"sustained load for {load.over} probes: {_load_words(model, rule)}"
        elif load.under >= rule.intervals and model.desired > rule.min:
            target = max(rule.min, model.desired - rule.step)
            why = f"low load for {load.under} probes: {_load_words(model, rule)}"
        else:
            return []
        return [Action("scale", model.key, model.name, why, group=model.group, count=target)]

    def reset(self, key: ModelKey) -> None:
        """After a scaling took effect, start counting anew."""
        self._load.pop(key, None)


def _judge(model: ModelView, rule: ScaleAction) -> tuple[bool, bool]:
    probe = model.probe
    assert probe is not None
    replicas = max(model.healthy, 1)
    checks: list[tuple[float, float]] = []
    if rule.in_flight_above is not None and probe.in_flight is not None:
        checks.append((probe.in_flight / replicas, rule.in_flight_above))
    if rule.p99_above_ms is not None and probe.p99_ms is not None:
        checks.append((probe.p99_ms, rule.p99_above_ms))
    if not checks:
        return False, False
    over = any(value > target for value, target in checks)
    under = all(value < target * rule.scale_down_below for value, target in checks)
    return over, under


def _load_words(model: ModelView, rule: ScaleAction) -> str:
    probe = model.probe
    assert probe is not None
    parts = []
    if rule.in_flight_above is not None and probe.in_flight is not None:
        per = probe.in_flight / max(model.healthy, 1)
        parts.append(f"{per:.1f} in-flight per replica (target {rule.in_flight_above:g})")
    if rule.p99_above_ms is not None and probe.p99_ms is not None:
        parts.append(f"p99 {probe.p99_ms:.0f} ms (target {rule.p99_above_ms:g} ms)")
    return ", ".join(parts)


def record(history: History, action: Action, now: datetime) -> History:
    """``history`` with ``action`` taken at ``now`` (what the executor persists first)."""
    stamp = now.isoformat()
    updated = History.from_dict(history.to_dict())
    if action.kind == "restart":
        done = updated.restarts.setdefault(action.alloc_id, {"count": 0})
        done["count"] = int(done.get("count", 0)) + 1
        done["last"] = stamp
    elif action.kind == "scale":
        updated.scaled_at = stamp
    elif action.kind == "revert":
        updated.reverted[action.deployment_id] = stamp
    return updated


def still_allowed(
    history: History, action: Action, now: datetime, actions: Actions
) -> bool:
    """Re-check bounds and cool-downs against freshly read history (another monitor, or
    this one before a restart, may have acted meanwhile)."""
    if action.kind == "restart" and actions.restart is not None:
        done = history.restarts.get(action.alloc_id, {})
        return int(done.get("count", 0)) < actions.restart.max_restarts and _since(
            done.get("last"), now
        ) >= actions.restart.cooldown
    if action.kind == "scale" and actions.scale is not None:
        return _since(history.scaled_at, now) >= actions.scale.cooldown
    if action.kind == "revert" and actions.revert is not None:
        return action.deployment_id not in history.reverted
    return False


def prune(history: History, live_allocs: set[str], now: datetime, keep: timedelta) -> History:
    """Forget restarts of allocations that are gone (and old enough not to matter)."""
    kept = {
        alloc: done
        for alloc, done in history.restarts.items()
        if alloc in live_allocs or _since(done.get("last"), now) < keep.total_seconds()
    }
    return History(kept, history.scaled_at, history.reverted)
