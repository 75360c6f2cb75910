"""The reconciler's pure decision: plan_scaling, overrides, pauses, reasons, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from mlctl.schedule.plan import (
    JobView,
    Scheduled,
    next_wake,
    plan_scaling,
    reason,
    unhealthy,
)
from mlctl.schedule.spec import Override, StoredSchedule

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = "Mon-Fri 09:00-18:00 Europe/Berlin"


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


def scheduled(*windows: dict[str, object], **extra: object) -> Scheduled:
    doc = StoredSchedule.model_validate({"windows": list(windows), "replicas": 2, **extra})
    return Scheduled.of("default", "iris", "mlctl-iris", doc)


def job(count: int, healthy: int | None = None, stopped: bool = False) -> dict:
    view = JobView(
        "default", "mlctl-iris", "model", count, count if healthy is None else healthy, stopped
    )
    return {("default", "mlctl-iris"): view}


def test_scales_up_when_the_window_is_open_and_says_why() -> None:
    item = scheduled({"window": OFFICE})
    (action,) = plan_scaling([item], job(0), berlin(2024, 5, 6, 9, 3))
    assert (action.current, action.target, action.group) == (0, 2, "model")
    assert action.reason == "mlctl schedule: window Mon-Fri 09:00-18:00 Europe/Berlin opened"
    (action,) = plan_scaling([item], job(2), berlin(2024, 5, 6, 18, 0))
    assert action.target == 0
    assert action.reason == "mlctl schedule: window Mon-Fri 09:00-18:00 Europe/Berlin closed"


def test_nothing_to_do_when_the_count_is_right_or_the_job_is_gone() -> None:
    item = scheduled({"window": OFFICE})
    assert plan_scaling([item], job(2), berlin(2024, 5, 6, 10, 0)) == []
    assert plan_scaling([item], job(0), berlin(2024, 5, 6, 20, 0)) == []
    assert plan_scaling([item], {}, berlin(2024, 5, 6, 10, 0)) == []
    assert plan_scaling([item], job(0, stopped=True), berlin(2024, 5, 6, 10, 0)) == []


def test_paused_schedules_are_left_alone() -> None:
    item = scheduled({"window": OFFICE}, paused=True)
    assert plan_scaling([item], job(0), berlin(2024, 5, 6, 10, 0)) == []


def test_a_manual_override_holds_until_the_next_transition() -> None:
    set_at = berlin(2024, 5, 6, 10, 0).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    item = scheduled({"window": OFFICE}, override=Override(replicas=5, at=set_at, by="ann"))
    assert item.override_until == berlin(2024, 5, 6, 18, 0)
    assert plan_scaling([item], job(5), berlin(2024, 5, 6, 17, 59)) == []
    (action,) = plan_scaling([item], job(5), berlin(2024, 5, 6, 18, 0))
    assert action.target == 0
    (action,) = plan_scaling([item], job(5), berlin(2024, 5, 7, 9, 0))  # next day: schedule
    assert action.target == 2


def test_maintenance_reasons() -> None:
    item = scheduled({"window": OFFICE}, {"window": "Wed 12:00-13:00 Europe/Berlin", "down": True})
    (action,) = plan_scaling([item], job(2), berlin(2024, 5, 8, 12, 0))
    assert action.target == 0
    assert action.reason.endswith("maintenance window Wed 12:00-13:00 Europe/Berlin began")
    assert reason(item.schedule, berlin(2024, 5, 8, 13, 0), 2).endswith("ended")


def test_wanted_up_but_not_healthy_after_the_grace_period() -> None:
    item = scheduled({"window": OFFICE})
    assert unhealthy([item], job(2, healthy=0), berlin(2024, 5, 6, 9, 4)) == []
    (late,) = unhealthy([item], job(2, healthy=1), berlin(2024, 5, 6, 9, 6))
    assert (late.wanted, late.healthy, late.since) == (2, 1, berlin(2024, 5, 6, 9, 0))
    assert unhealthy([item], job(2, healthy=2), berlin(2024, 5, 6, 9, 6)) == []
    assert unhealthy([item], job(0), berlin(2024, 5, 6, 20, 0)) == []
    assert unhealthy([item], {}, berlin(2024, 5, 6, 9, 30), timedelta(minutes=10))[0].healthy == 0


def test_next_wake_is_the_earliest_edge() -> None:
    office = scheduled({"window": OFFICE})
    evening = scheduled({"window": "Mon 17:00-19:00 Europe/Berlin"})
    assert next_wake([office, evening], berlin(2024, 5, 6, 10, 0)) == berlin(2024, 5, 6, 17, 0)
    assert next_wake([], berlin(2024, 5, 6, 10, 0)) is None
