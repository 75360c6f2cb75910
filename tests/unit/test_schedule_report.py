"""schedule report's arithmetic over a probe history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mlctl.schedule.report import Answers, report, up_periods
from mlctl.schedule.spec import StoredSchedule


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def probe(at: datetime, ready: int) -> dict[str, object]:
    return {
        "kind": "probe",
        "time": at.isoformat(),
        "model": "iris",
        "ready": ready,
        "endpoints": ready,
        "reachable": ready,
    }


OFFICE = StoredSchedule.model_validate(
    {"windows": [{"window": "Mon-Fri 09:00-17:00 UTC"}], "replicas": 2}
).schedule()


def test_periods_over_a_week() -> None:
    periods = up_periods(OFFICE, utc(2024, 5, 6, 12, 0), utc(2024, 5, 8, 10, 0))
    assert [(p.opened, p.closed, p.clipped) for p in periods] == [
        (utc(2024, 5, 6, 12, 0), utc(2024, 5, 6, 17, 0), True),
        (utc(2024, 5, 7, 9, 0), utc(2024, 5, 7, 17, 0), False),
        (utc(2024, 5, 8, 9, 0), None, False),
    ]


def test_report_rows() -> None:
    events = [
        probe(utc(2024, 5, 7, 8, 0), 0),
        probe(utc(2024, 5, 7, 9, 0, 40), 1),  # healthy 40 s after opening
        probe(utc(2024, 5, 7, 13, 0), 0),  # an hour's outage
        probe(utc(2024, 5, 7, 14, 0), 2),
        probe(utc(2024, 5, 7, 17, 0, 5), 0),  # stopped 5 s after closing
    ]
    (row,) = report(OFFICE, events, utc(2024, 5, 7, 0, 0), utc(2024, 5, 7, 20, 0))
    assert row["opened"] == "2024-05-07T09:00:00Z" and row["closed"] == "2024-05-07T17:00:00Z"
    assert row["healthy_after_s"] == 40.0 and row["stopped_after_s"] == 5.0
    expected = (8 * 3600 - 40 - 3600) / (8 * 3600)
    assert row["answered_fraction"] == round(expected, 4)


def test_no_probe_data_is_unknown_not_zero() -> None:
    (row,) = report(OFFICE, [], utc(2024, 5, 7, 0, 0), utc(2024, 5, 7, 20, 0))
    assert row["healthy_at"] is None and row["answered_fraction"] is None


def test_answers_step_function() -> None:
    answers = Answers([probe(utc(2024, 1, 1, 1), 1), probe(utc(2024, 1, 1, 2), 0)])
    assert answers.at(utc(2024, 1, 1, 0)) is None
    assert answers.at(utc(2024, 1, 1, 1, 30)) is True
    assert answers.answered(utc(2024, 1, 1, 0), utc(2024, 1, 1, 3)) == timedelta(hours=1)
