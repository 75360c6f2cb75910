"""Operators' silences (mlctl tui's notes) in the monitor's routing: a silenced alert is
not notified until its silence ends, with Alertmanager's semantics; a note counts only
in its alert's namespace."""

from __future__ import annotations

from datetime import datetime, timedelta

from mlctl.monitor.alerts import fingerprint
from mlctl.monitor.notes import AlertNote, Silences, belongs
from mlctl.monitor.routing import Notification, Router
from mlctl.monitor.views import Alert, frozen_map
from tests.unit.monitor_objects import T0
from tests.unit.test_monitor_routing import at, router, summaries

LABELS = {
    "alertname": "ModelCrashLooping",
    "model": "iris",
    "namespace": "team-a",
    "severity": "critical",
}


def alert(end: float | None = None, **extra: str) -> Alert:
    labels = {**LABELS, **extra}
    return Alert(
        labels=frozen_map(labels),
        annotations=frozen_map({"summary": "iris crash-loops"}),
        starts_at=T0,
        ends_at=at(end) if end is not None else None,
        fingerprint=fingerprint(labels),
    )


def silence(until: float, namespace: str = "team-a", **extra: str) -> AlertNote:
    labels = {**LABELS, **extra}
    return AlertNote(
        fingerprint(labels), namespace, labels, silenced_until=at(until), silenced_by="ana"
    )


def route(silences: Silences, alerts: list[Alert], now: datetime, r: Router) -> list[Notification]:
    """One pass of the monitor's loop: only what is not silenced reaches the router."""
    return r.process(silences.unsilenced(alerts, now), now)


def test_an_alert_that_fires_during_a_silence_is_notified_when_it_ends() -> None:
    r = router()
    silences = Silences.of([silence(until=600)])
    a = alert()
    for second in (0, 10, 300, 599):
        assert route(silences, [a], at(second), r) == []
    assert silences.silenced(a, at(599)) and not silences.silenced(a, at(600))
    assert route(silences, [a], at(600), r) == []  # a new group waits group_wait (10 s)
    assert summaries(route(silences, [a], at(610), r)) == [("default", "firing", ["firing"])]


def test_a_told_alert_is_not_told_again_when_a_short_silence_ends() -> None:
    r = router()  # repeat_interval 1h
    a = alert()
    assert route(Silences(), [a], at(0), r) == []
    assert summaries(route(Silences(), [a], at(10), r)) == [("default", "firing", ["firing"])]
    silences = Silences.of([silence(until=1200)])
    assert route(silences, [a], at(600), r) == []
    # The silence ends within the repeat interval: the receiver already knows.
    assert route(silences, [a], at(1200), r) == []
    assert route(silences, [a], at(1300), r) == []
    # A silence outlasting the repeat interval: the alert is told again when it ends.
    long = Silences.of([silence(until=3 * 3600)])
    assert route(long, [a], at(2 * 3600), r) == []
    assert route(long, [a], at(3 * 3600), r) == []  # news again: waits group_wait
    assert summaries(route(long, [a], at(3 * 3600 + 10), r)) == [
        ("default", "firing", ["firing"])
    ]


def test_a_resolution_during_a_silence_is_told_when_the_silence_ends() -> None:
    r = router()
    a = alert()
    route(Silences(), [a], at(0), r)
    assert route(Silences(), [a], at(10), r)
    silences = Silences.of([silence(until=900)])
    done = alert(end=300)
    assert route(silences, [done], at(300), r) == []
    assert route(silences, [done], at(899), r) == []
    sent = route(silences, [done], at(900), r)
    assert summaries(sent) == [("default", "resolved", ["resolved"])]


def test_silences_are_per_alert_and_expire() -> None:
    crash_a1, crash_a2 = alert(alloc="a1"), alert(alloc="a2")
    silences = Silences.of([silence(until=60, alloc="a1")])
    assert silences.unsilenced([crash_a1, crash_a2], at(0)) == [crash_a2]
    assert silences.unsilenced([crash_a1, crash_a2], at(60)) == [crash_a1, crash_a2]
    acked_only = AlertNote(crash_a2.fingerprint, "team-a", crash_a2.labels, acked_by="bo")
    assert Silences.of([acked_only]).unsilenced([crash_a2], at(0)) == [crash_a2]


def test_a_note_counts_only_in_its_alerts_namespace() -> None:
    a = alert()
    # Someone who may write notes in team-b claims team-a's alert: ignored.
    forged = silence(until=600, namespace="team-b")
    assert not belongs(forged)
    assert Silences.of([forged]).unsilenced([a], at(0)) == [a]
    # Labels that do not hash to the fingerprint the note claims: ignored too.
    lying = AlertNote(
        a.fingerprint, "team-a", {**LABELS, "model": "bert"}, silenced_until=at(600)
    )
    assert not belongs(lying)
    assert Silences.of([lying]).unsilenced([a], at(0)) == [a]
    # An alert without a namespace (a node) keeps its notes in "default".
    node_labels = {"alertname": "NodeDown", "node": "gpu-1", "severity": "critical"}
    node_alert = Alert(frozen_map(node_labels), frozen_map({}), T0, None,
                       fingerprint(node_labels))  # fmt: skip
    node_note = AlertNote(node_alert.fingerprint, "default", node_labels,
                          silenced_until=at(60))  # fmt: skip
    assert Silences.of([node_note]).silenced(node_alert, at(0))


def test_the_published_alert_says_who_silenced_it_until_when() -> None:
    a = alert()
    note = AlertNote(
        a.fingerprint,
        "team-a",
        a.labels,
        acked_by="bo",
        acked_at=T0,
        silenced_until=T0 + timedelta(hours=2),
        silenced_by="ana",
    )
    shown = Silences.of([note]).annotate(a, at(0))
    assert shown["status"] == "firing"  # still firing: a silence only holds notifications
    assert shown["silenced"] == {"by": "ana", "until": "2025-03-03T11:00:00Z"}
    assert shown["acknowledged"] == {"by": "bo", "at": "2025-03-03T09:00:00Z"}
    later = Silences.of([note]).annotate(a, T0 + timedelta(hours=3))
    assert "silenced" not in later and later["acknowledged"]["by"] == "bo"


def test_mlctl_alerts_says_who_silenced_and_acked_in_its_note_column() -> None:
    from mlctl.cli.alerts import _row

    a = alert()
    note = AlertNote(a.fingerprint, "team-a", a.labels, acked_by="bo", acked_at=T0,
                     silenced_until=at(3600), silenced_by="ana")  # fmt: skip
    row = _row(Silences.of([note]).annotate(a, at(0)))
    assert row["note"] == "silenced by ana until 2025-03-03 10:00:00Z; acked by bo"
    assert _row(a.to_dict())["note"] == ""
