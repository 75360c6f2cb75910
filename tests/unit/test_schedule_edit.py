"""What the TUI's schedule form uses: per-field checks as you type and a preview."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlctl.schedule.edit import check_field, preview, window_spec
from mlctl.schedule.problems import ScheduleInvalid
from mlctl.schedule.spec import StoredSchedule
from mlctl.schedule.view import format_instant, list_row, state


def test_each_field_checks_alone() -> None:
    assert check_field("days", "Mon-Fri") is None
    assert "unknown day 'Fry'" in (check_field("days", "Mon-Fry") or "")
    assert check_field("time", "22:00-02:00") is None
    assert "same time" in (check_field("time", "09:00-09:00") or "")
    assert "did you mean Europe/Berlin" in (check_field("tz", "Europe/Berln") or "")
    assert check_field("start", "0 9 * * 1-5") is None
    assert "five" in (check_field("stop", "0 9 *") or "")
    assert "offset" in (check_field("from", "2025-01-01T00:00:00") or "")
    assert (check_field("window", "Mon-Fri 09:00-18:00 Mars/X") or "").startswith("tz: ")
    with pytest.raises(KeyError):
        check_field("colour", "red")


def test_preview_shows_the_next_five_transitions_before_saving() -> None:
    found = preview(
        [{"window": "Mon-Fri 09:00-18:00 Europe/Berlin"}],
        replicas=2,
        idle_replicas=None,
        now=datetime(2024, 3, 29, 12, 0, tzinfo=UTC),
    )
    assert [t.to_dict() for t in found] == [
        {"at": "2024-03-29T17:00:00Z", "replicas": 0},
        {"at": "2024-04-01T07:00:00Z", "replicas": 2},
        {"at": "2024-04-01T16:00:00Z", "replicas": 0},
        {"at": "2024-04-02T07:00:00Z", "replicas": 2},
        {"at": "2024-04-02T16:00:00Z", "replicas": 0},
    ]
    with pytest.raises(
        ScheduleInvalid, match=r"window 'Mon 09:00 UTC': time: '09:00' is not a range"
    ):
        preview(
            [{"window": "Mon 09:00 UTC"}], replicas=1, idle_replicas=None, now=datetime.now(UTC)
        )


def test_window_spec_errors_name_window_and_field() -> None:
    with pytest.raises(ScheduleInvalid) as caught:
        window_spec({"window": "Mon-Fri 09:00-18:00 UTC", "replicas": -1})
    assert caught.value.message.startswith("window 'Mon-Fri 09:00-18:00 UTC': replicas: ")
    with pytest.raises(ScheduleInvalid, match=r"^window 'from x until None': from: "):
        window_spec({"from": "x"})


def test_state_and_rows() -> None:
    doc = StoredSchedule.model_validate(
        {"windows": [{"window": "Mon-Fri 09:00-18:00 Europe/Berlin"}], "replicas": 2}
    )
    monday = datetime(2024, 5, 6, 7, 30, tzinfo=UTC)  # 09:30 CEST
    current = state(doc, monday)
    assert current.summary == "up 2" and current.next_start is not None
    assert current.next_stop is not None and current.next_stop.at == datetime(
        2024, 5, 6, 16, 0, tzinfo=UTC
    )
    row = list_row("default", "iris", doc, monday)
    assert row["next_stop"] == {
        "at": "2024-05-06T16:00:00Z",
        "replicas": 0,
        "local": "Mon 2024-05-06 18:00 CEST (16:00Z)",
    }
    late = datetime(2024, 5, 6, 23, 30, tzinfo=UTC)
    assert format_instant(late, current.zone) == "Tue 2024-05-07 01:30 CEST (2024-05-06 23:30Z)"
