"""The live event feed: what changed between two snapshots, in plain words (pure).

The Store holds state, not history; the feed is the TUI's own history, derived by
comparing each snapshot with the previous one. Unchanged models are skipped by
identity (the Store shares unchanged views), so a refresh costs only what changed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from mlctl.monitor.store import Snapshot
from mlctl.monitor.views import AllocView, ModelView, NodeView
from mlctl_tui.core import formatting as fmt
from mlctl_tui.core.table import Column, TableRow

SEVERITIES = ("critical", "warning", "info")
FEED_LIMIT = 2_000

FEED_COLUMNS = (
    Column("time", "TIME", 8),
    Column("severity", "SEVERITY", 8),
    Column("subject", "SUBJECT", 24),
    Column("text", "WHAT HAPPENED", 0),
)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    time: datetime
    severity: str  #: ``critical``, ``warning`` or ``info``
    subject: str  #: ``iris (team-a)``, ``node gpu-1``, ``nomad``, ``you``
    text: str
    model: str = ""  #: the model name, for filtering by model
    namespace: str = ""
    seq: int = 0  #: position in the feed (set by :class:`Feed`), a stable row key


def _subject(model: ModelView) -> str:
    return f"{model.name} ({model.namespace})"


def _event(now: datetime, severity: str, model: ModelView, text: str) -> FeedEvent:
    return FeedEvent(now, severity, _subject(model), text, model.name, model.namespace)


def _alloc_change(old: AllocView | None, new: AllocView) -> tuple[str, str] | None:
    node = new.node_name or fmt.short_id(new.node_id)
    alloc = f"allocation {fmt.short_id(new.id)}"
    last = new.last_events[-1].message if new.last_events else ""
    if old is None:
        return "info", f"{alloc} placed on {node} (version {new.job_version})"
    if old.client_status != new.client_status:
        status = new.client_status
        if status == "failed":
            return "critical", f"{alloc} failed on {node}" + (f": {last}" if last else "")
        if status == "lost":
            return "warning", f"{alloc} lost on {node}: {new.client_description or 'node down'}"
        if status == "running":
            return "info", f"{alloc} running on {node}"
        return "info", f"{alloc} {status} on {node}"
    if new.restarts > old.restarts:
        return "warning", f"{alloc} restarted ({new.restarts} restarts)" + (
            f": {last}" if last else ""
        )
    if old.healthy != new.healthy and new.healthy is not None:
        if new.healthy:
            return "info", f"{alloc} healthy"
        return "warning", f"{alloc} unhealthy on {node}"
    return None


def _model_changes(old: ModelView | None, new: ModelView, now: datetime) -> Iterator[FeedEvent]:
    if old is None:
        yield _event(now, "info", new, f"registered (job version {new.version})")
    else:
        if new.version != old.version:
            yield _event(now, "info", new, f"job version {old.version} → {new.version}")
        if new.stopped != old.stopped:
            yield _event(
                now,
                "warning" if new.stopped else "info",
                new,
                "stopped" if new.stopped else "started",
            )
        elif new.desired != old.desired:
            yield _event(now, "info", new, f"count {old.desired} → {new.desired}")
        if new.blocked is not None and (old.blocked is None or old.blocked.id != new.blocked.id):
            yield _event(now, "critical", new, f"placement blocked: {new.blocked.reason}")
    yield from _deployment_change(old, new, now)
    before = {a.id: a for a in old.allocations} if old else {}
    for alloc in new.allocations:
        previous = before.get(alloc.id)
        if previous is alloc:
            continue
        change = _alloc_change(previous, alloc)
        if change is not None:
            yield _event(now, change[0], new, change[1])


def _deployment_change(old: ModelView | None, new: ModelView, now: datetime) -> Iterator[FeedEvent]:
    deployment = new.deployment
    if deployment is None:
        return
    previous = old.deployment if old else None
    if (
        previous is not None
        and previous.id == deployment.id
        and (previous.status == deployment.status)
    ):
        if deployment.awaiting_promotion and not previous.awaiting_promotion:
            yield _event(now, "warning", new, "canaries healthy, waiting for promotion")
        return
    severity = {"failed": "critical", "cancelled": "warning"}.get(deployment.status, "info")
    yield _event(
        now,
        severity,
        new,
        f"deployment {fmt.short_id(deployment.id)} (version {deployment.job_version}) "
        f"{deployment.status}" + (f": {deployment.description}" if deployment.description else ""),
    )


def _node_changes(old: NodeView | None, new: NodeView, now: datetime) -> Iterator[FeedEvent]:
    subject = f"node {new.name}"
    if old is None:
        yield FeedEvent(now, "info", subject, f"registered ({new.status})")
        return
    if old.status != new.status:
        severity = "critical" if new.status == "down" else "info"
        yield FeedEvent(now, severity, subject, f"status {old.status} → {new.status}")
    if old.drain != new.drain:
        yield FeedEvent(
            now,
            "warning" if new.drain else "info",
            subject,
            "draining" if new.drain else "drain finished",
        )
    if old.eligibility != new.eligibility:
        yield FeedEvent(
            now,
            "warning" if new.eligibility != "eligible" else "info",
            subject,
            f"marked {new.eligibility}",
        )
    unhealthy = {g.id for g in new.gpus if not g.healthy} - {
        g.id for g in old.gpus if not g.healthy
    }
    for gpu in sorted(unhealthy):
        yield FeedEvent(now, "critical", subject, f"GPU {gpu} unhealthy")


def _alert_changes(old: Snapshot, new: Snapshot, now: datetime) -> Iterator[FeedEvent]:
    before = {a.fingerprint: a for a in old.alerts}
    for alert in new.alerts:
        previous = before.get(alert.fingerprint)
        if previous is not None and previous.status == alert.status:
            continue
        labels = alert.labels
        model, namespace = labels.get("model", ""), labels.get("namespace", "")
        subject = f"{model} ({namespace})" if model else (labels.get("node") or "cluster")
        summary = alert.annotations.get("summary", "")
        if alert.status == "firing":
            severity = labels.get("severity", "warning")
            severity = severity if severity in SEVERITIES else "warning"
            text = f"alert {alert.name} firing" + (f": {summary}" if summary else "")
        else:
            severity, text = "info", f"alert {alert.name} resolved"
        yield FeedEvent(now, severity, subject, text, model, namespace)


def changes(old: Snapshot | None, new: Snapshot, now: datetime) -> list[FeedEvent]:
    """Everything that happened between ``old`` and ``new`` (nothing for the first one)."""
    if old is None or old is new:
        return []
    events: list[FeedEvent] = []
    if old.connected != new.connected:
        if new.connected:
            events.append(FeedEvent(now, "info", "nomad", f"connected ({new.mode})"))
        else:
            why = f": {new.last_error}" if new.last_error else ""
            events.append(FeedEvent(now, "critical", "nomad", "connection lost" + why))
    if not old.synced:
        return events  # the first full listing is the starting point, not news
    for key, model in new.models.items():
        previous = old.models.get(key)
        if previous is not model:
            events.extend(_model_changes(previous, model, now))
    for key, model in old.models.items():
        if key not in new.models:
            events.append(_event(now, "warning", model, "job deregistered (purged)"))
    for node_id, node in new.nodes.items():
        previous_node = old.nodes.get(node_id)
        if previous_node is not node:
            events.extend(_node_changes(previous_node, node, now))
    events.extend(_alert_changes(old, new, now))
    return events


class Feed:
    """The bounded history the Alerts & events screen shows, newest last."""

    def __init__(self, limit: int = FEED_LIMIT) -> None:
        self.events: deque[FeedEvent] = deque(maxlen=limit)
        self.version = 0
        self._next = 1

    def add(self, events: Iterable[FeedEvent]) -> None:
        items = list(events)
        if items:
            start = self._next
            self._next += len(items)
            self.events.extend(replace(e, seq=start + i) for i, e in enumerate(items))
            self.version += 1


def feed_rows(events: Iterable[FeedEvent], severity: str | None = None) -> list[TableRow]:
    """Newest first; ``severity`` keeps that one only."""
    rows = []
    for event in reversed(list(events)):
        if severity and event.severity != severity:
            continue
        style = {"critical": "failing", "warning": "degraded"}.get(event.severity, "")
        cells = (fmt.clock(event.time), event.severity, event.subject, event.text)
        haystack = f"{event.subject} {event.model} {event.text}"
        rows.append(TableRow(str(event.seq), cells, (), style, haystack))
    return rows
