"""Routing and grouping with Alertmanager's semantics, flap damping, persistence."""

from __future__ import annotations

from datetime import datetime, timedelta

from mlctl.monitor.alerts import fingerprint
from mlctl.monitor.config import RouteConfig
from mlctl.monitor.routing import Notification, Router, build_route, routes_for
from mlctl.monitor.views import Alert, frozen_map
from tests.unit.monitor_objects import T0


def alert(
    name: str = "ModelCrashLooping",
    model: str = "iris",
    severity: str = "critical",
    start: float = 0,
    end: float | None = None,
    **extra: str,
) -> Alert:
    labels = {"alertname": name, "model": model, "namespace": "default", "severity": severity}
    labels.update(extra)
    return Alert(
        labels=frozen_map(labels),
        annotations=frozen_map({"summary": f"{name} {model}"}),
        starts_at=T0 + timedelta(seconds=start),
        ends_at=T0 + timedelta(seconds=end) if end is not None else None,
        fingerprint=fingerprint(labels),
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def router(**route: object) -> Router:
    config = RouteConfig.model_validate(
        {"receiver": "default", "group_wait": "10s", "group_interval": "1m",
         "repeat_interval": "1h", **route}
    )  # fmt: skip
    return Router(build_route(config))


def summaries(sent: list[Notification]) -> list[tuple[str, str, list[str]]]:
    return [(n.receiver, n.status, [a.status for a in n.alerts]) for n in sent]


def test_a_new_group_waits_group_wait_then_notifies_once() -> None:
    r = router()
    a = alert()
    assert r.process([a], at(0)) == []
    assert r.process([a], at(9)) == []
    sent = r.process([a], at(10))
    assert summaries(sent) == [("default", "firing", ["firing"])]
    key = '{}:{alertname="ModelCrashLooping", model="iris", namespace="default"}'
    assert sent[0].group_key == key
    assert r.process([a], at(30)) == []


def test_changes_wait_for_group_interval_and_firing_groups_repeat() -> None:
    r = router()
    a, b = alert(alloc="a1"), alert(alloc="a2", start=15)
    r.process([a], at(0))
    assert r.process([a], at(10))
    assert r.process([a, b], at(20)) == []  # news, but within group_interval
    sent = r.process([a, b], at(70))
    assert summaries(sent) == [("default", "firing", ["firing", "firing"])]
    assert r.process([a, b], at(70 + 3599)) == []
    assert summaries(r.process([a, b], at(70 + 3600))) == [
        ("default", "firing", ["firing", "firing"])
    ]


def test_resolution_is_sent_once() -> None:
    r = router()
    a = alert()
    r.process([a], at(0))
    assert r.process([a], at(10))
    done = alert(end=100)
    sent = r.process([done], at(100))
    assert summaries(sent) == [("default", "resolved", ["resolved"])]
    assert r.process([done], at(200)) == []
    assert r.process([done], at(5000)) == []


def test_a_flapping_alert_is_not_resent_more_often_than_its_repeat_interval() -> None:
    r = router()
    firing, resolved = alert(), alert(end=80)
    r.process([firing], at(0))
    assert r.process([firing], at(10))  # told firing at 10
    assert r.process([resolved], at(80))  # told resolved
    again = alert(start=200)
    assert r.process([again], at(200)) == []  # flaps back within the repeat interval
    assert r.process([alert(end=300)], at(300)) == []  # and away again: already told
    assert r.process([alert(start=400)], at(400)) == []
    assert summaries(r.process([alert(start=400)], at(3610))) == [
        ("default", "firing", ["firing"])
    ]


def test_fired_and_resolved_before_the_first_notification_is_still_told() -> None:
    r = router()
    r.process([alert()], at(0))
    sent = r.process([alert(end=5)], at(10))
    assert summaries(sent) == [("default", "resolved", ["resolved"])]


def test_routes_match_in_order_and_continue() -> None:
    r = router(
        routes=[
            {"match": {"severity": "critical"}, "receiver": "pager", "continue": True},
            {"match_re": {"model": "iris|bert"}, "receiver": "team"},
        ]
    )
    both = [alert(), alert(severity="warning", model="bert")]
    r.process(both, at(0))
    sent = r.process(both, at(10))
    assert sorted((n.receiver, n.alerts[0].labels["model"]) for n in sent) == [
        ("pager", "iris"),
        ("team", "bert"),
        ("team", "iris"),
    ]
    other = r.process([alert(severity="info", model="gpt")], at(20))
    assert other == []
    assert [n.receiver for n in r.process([alert(severity="info", model="gpt")], at(31))] == [
        "default"
    ]


def test_children_inherit_timings_and_group_by() -> None:
    root = build_route(
        RouteConfig.model_validate(
            {"receiver": "default", "group_by": ["model"], "group_wait": "1s",
             "routes": [{"match": {"severity": "critical"}, "receiver": "pager"}]}
        )
    )  # fmt: skip
    (child,) = routes_for(root, alert().labels)
    assert (child.receiver, child.group_by, child.group_wait) == ("pager", ("model",), 1.0)
    assert child.path == '{}/{severity="critical"}'


def test_send_resolved_false_stays_quiet_but_a_new_episode_is_news() -> None:
    r = Router(build_route(RouteConfig(receiver="quiet")), send_resolved={"quiet": False})
    r.process([alert()], at(0))
    assert r.process([alert()], at(10))
    assert r.process([alert(end=20)], at(20)) == []
    # Two hours later it fires again: the group is past group_interval, so at once.
    assert summaries(r.process([alert(start=7300)], at(7300))) == [
        ("quiet", "firing", ["firing"])
    ]


def test_a_restored_router_neither_repeats_nor_misses() -> None:
    r = router()
    r.process([alert()], at(0))
    assert r.process([alert()], at(10))
    restored = router()
    restored.load(r.dump())
    assert restored.process([alert()], at(20)) == []
    assert summaries(restored.process([alert(end=90)], at(90))) == [
        ("default", "resolved", ["resolved"])
    ]
