"""What each receiver is sent, built from a notification (pure).

- :func:`webhook` is Alertmanager's webhook payload, version 4 (``status``,
  ``groupKey``, ``groupLabels``, ``commonLabels``, ``commonAnnotations``, ``alerts[]``
  with ``startsAt``/``endsAt``/``fingerprint`` …), so anything that consumes
  Alertmanager webhooks works unchanged. Firing alerts carry Alertmanager's zero time
  ``0001-01-01T00:00:00Z`` as ``endsAt``.
- :func:`slack_text` is a Slack-compatible ``{"text": ...}`` message.
- :func:`email` is a subject and a plain-text body.
- :func:`alertmanager_alerts` is the body of Alertmanager's ``POST /api/v2/alerts``:
  firing alerts without ``endsAt`` (Alertmanager resolves them itself unless they are
  sent again within its ``resolve_timeout``), resolved ones with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from mlctl.monitor.routing import Notification
from mlctl.monitor.views import Alert

ZERO_TIME = "0001-01-01T00:00:00Z"
GeneratorURL = Callable[[Alert], str]


def rfc3339(moment: datetime) -> str:
    """``2025-03-03T09:00:00.123Z`` (UTC, milliseconds), as Alertmanager writes times."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _common(maps: Iterable[Mapping[str, str]]) -> dict[str, str]:
    items = list(maps)
    if not items:
        return {}
    first = dict(items[0])
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in items[1:])}


def _alert(alert: Alert, generator_url: GeneratorURL) -> dict[str, Any]:
    return {
        "status": alert.status,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(alert.ends_at) if alert.ends_at else ZERO_TIME,
        "generatorURL": generator_url(alert),
        "fingerprint": alert.fingerprint,
    }


def webhook(
    notification: Notification,
    external_url: str = "",
    generator_url: GeneratorURL = lambda _a: "",
    max_alerts: int = 0,
) -> dict[str, Any]:
    alerts = list(notification.alerts)
    shown = alerts[:max_alerts] if max_alerts else alerts
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": len(alerts) - len(shown),
        "status": notification.status,
        "receiver": notification.receiver,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": _common(a.labels for a in alerts),
        "commonAnnotations": _common(a.annotations for a in alerts),
        "externalURL": external_url,
        "alerts": [_alert(a, generator_url) for a in shown],
    }


def title(notification: Notification) -> str:
    """``[FIRING:2] ModelCrashLooping iris default`` (Alertmanager's default title)."""
    firing = sum(1 for a in notification.alerts if a.ends_at is None)
    count = firing if notification.status == "firing" else len(notification.alerts)
    values = " ".join(notification.group_labels.values())
    return f"[{notification.status.upper()}:{count}] {values}".rstrip()


def _lines(alert: Alert) -> list[str]:
    state = "RESOLVED" if alert.ends_at else alert.labels.get("severity", "firing").upper()
    where = ", ".join(
        f"{k}={alert.labels[k]}" for k in ("namespace", "node", "alloc") if alert.labels.get(k)
    )
    since = f"since {rfc3339(alert.starts_at)}"
    if alert.ends_at:
        since += f", resolved {rfc3339(alert.ends_at)}"
    return [
        f"{state}: {alert.annotations.get('summary', alert.name)} ({where}; {since})",
        f"  {alert.annotations.get('description', '')}".rstrip(),
    ]


def slack_text(notification: Notification, channel: str | None = None) -> dict[str, Any]:
    body = [title(notification)]
    for alert in notification.alerts:
        body.extend(_lines(alert))
    message: dict[str, Any] = {"text": "\n".join(line for line in body if line.strip())}
    if channel:
        message["channel"] = channel
    return message


def email(notification: Notification, external_url: str = "") -> dict[str, str]:
    body = [title(notification), ""]
    for alert in notification.alerts:
        body.extend(_lines(alert))
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        body.extend([f"  labels: {labels}", f"  fingerprint: {alert.fingerprint}", ""])
    if external_url:
        body.append(f"Sent by the mlctl monitor at {external_url}")
    return {"subject": title(notification), "body": "\n".join(body).rstrip() + "\n"}


def alertmanager_alerts(
    alerts: Iterable[Alert], generator_url: GeneratorURL = lambda _a: ""
) -> list[dict[str, Any]]:
    out = []
    for alert in alerts:
        item: dict[str, Any] = {
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "startsAt": rfc3339(alert.starts_at),
            "generatorURL": generator_url(alert),
        }
        if alert.ends_at is not None:
            item["endsAt"] = rfc3339(alert.ends_at)
        out.append(item)
    return out
