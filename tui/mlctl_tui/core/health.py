"""How healthy a model is, in one word the table colours and one line that says why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mlctl.monitor.views import Alert, ModelView

SEVERITY_RANK = {"critical": 0, "error": 0, "warning": 1, "info": 2}


class Health(StrEnum):
    FAILING = "failing"
    DEGRADED = "degraded"
    DEPLOYING = "deploying"
    PENDING = "pending"
    HEALTHY = "healthy"
    STOPPED = "stopped"

    @property
    def rank(self) -> int:
        """Worst first, for sorting by health."""
        return list(Health).index(self)


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """The firing alerts of one model: how many and the worst severity."""

    firing: int = 0
    worst: str = ""
    names: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        if not self.firing:
            return ""
        return f"{self.firing} {self.worst}" if self.worst else str(self.firing)


NO_ALERTS = AlertSummary()


def summarize_alerts(alerts: tuple[Alert, ...]) -> dict[tuple[str, str], AlertSummary]:
    """Firing alerts grouped by model key ``(namespace, job)``."""
    grouped: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        if alert.ends_at is not None:
            continue
        labels = alert.labels
        job = labels.get("job") or ("mlctl-" + labels["model"] if labels.get("model") else "")
        if not job:
            continue
        grouped.setdefault((labels.get("namespace", "default"), job), []).append(alert)
    return {key: _summary(items) for key, items in grouped.items()}


def _summary(alerts: list[Alert]) -> AlertSummary:
    severities = [a.labels.get("severity", "") for a in alerts]
    worst = min(severities, key=lambda s: SEVERITY_RANK.get(s, 3))
    return AlertSummary(len(alerts), worst, tuple(sorted({a.name for a in alerts})))


def model_health(model: ModelView, alerts: AlertSummary = NO_ALERTS) -> tuple[Health, str]:
    """The model's health and the reason in plain words."""
    if model.stopped:
        return Health.STOPPED, "stopped"
    if model.desired == 0 and model.running == 0:
        return Health.STOPPED, "scaled to 0"
    if model.blocked is not None:
        health = Health.FAILING if model.healthy == 0 else Health.DEGRADED
        return health, f"blocked: {model.blocked.reason}"
    if alerts.firing and SEVERITY_RANK.get(alerts.worst, 3) == 0:
        return Health.FAILING, "alert: " + ", ".join(alerts.names)
    deployment = model.deployment
    if deployment is not None and deployment.job_version == model.version:
        if deployment.status == "failed":
            health = Health.FAILING if model.healthy == 0 else Health.DEGRADED
            return health, f"deployment failed: {deployment.description}"
        if deployment.awaiting_promotion:
            return Health.DEPLOYING, (
                f"canaries await promotion ({deployment.canaries_healthy}/"
                f"{deployment.canaries_desired} healthy)"
            )
        if deployment.active:
            return Health.DEPLOYING, (
                f"deploying {deployment.healthy}/{deployment.desired_total} healthy"
            )
    if model.healthy == 0 and model.desired > 0:
        if any(a.live and a.client_status == "pending" for a in model.allocations):
            return Health.PENDING, "starting"
        return Health.FAILING, "no healthy allocation"
    if model.healthy < model.desired:
        return Health.DEGRADED, f"{model.healthy}/{model.desired} healthy"
    if alerts.firing:
        return Health.DEGRADED, "alert: " + ", ".join(alerts.names)
    return Health.HEALTHY, "healthy"
