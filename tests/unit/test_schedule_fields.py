"""The per-field parsers: what each accepts, and the one-line errors for what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlctl.schedule import fields
from mlctl.schedule.problems import FieldError
from mlctl.schedule.zones import zone


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        ("Sat,Sun", {5, 6}),
        ("mon-wed,fri", {0, 1, 2, 4}),
        ("Fri-Mon", {4, 5, 6, 0}),
        ("Sunday", {6}),
        ("Mon-Sun", set(range(7))),
        ("Wed-Wed", {2}),
    ],
)
def test_days(text: str, days: set[int]) -> None:
    assert fields.parse_days(text) == frozenset(days)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Mon-Fry", "unknown day 'Fry'"),
        ("", "missing"),
        ("Mon-", "not a day or a range"),
        ("Mon,,Tue", "not a day"),
    ],
)
def test_bad_days(text: str, words: str) -> None:
    with pytest.raises(FieldError) as caught:
        fields.parse_days(text)
    assert caught.value.field == "days"
    assert words in caught.value.message


def test_format_days_round_trips() -> None:
    for text in ("Mon-Fri", "Sat,Sun", "Mon-Wed,Fri", "Mon-Sun", "Tue", "Fri-Mon", "Mon,Wed,Fri"):
        assert fields.format_days(fields.parse_days(text)) == text


def test_time_ranges() -> None:
    assert fields.parse_time_range("09:00-18:00") == (540, 1080)
    assert fields.parse_time_range("22:00-02:00") == (1320, 120)  # crosses midnight
    assert fields.parse_time_range("18:00-24:00") == (1080, 1440)
    assert fields.parse_time_range("00:00-24:00") == (0, 1440)
    assert fields.parse_time_range("9:05-17:30") == (545, 1050)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("09:00-09:00", "starts and ends at the same time"),
        ("00:00-00:00", "00:00-24:00"),
        ("24:00-02:00", "24:00 only as the end"),
        ("09:00-24:30", "only 24:00 itself"),
        ("9-17", "not a time like 09:00"),
        ("09:00", "not a range"),
        ("09:60-10:00", "not a time like"),
    ],
)
def test_bad_time_ranges(text: str, words: str) -> None:
    with pytest.raises(FieldError) as caught:
        fields.parse_time_range(text)
    assert caught.value.field == "time"
    assert words in caught.value.message


def test_zones_and_suggestions() -> None:
    assert fields.parse_zone("Europe/Berlin").key == "Europe/Berlin"
    with pytest.raises(FieldError, match="did you mean Europe/Berlin"):
        fields.parse_zone("Europe/Berln")
    with pytest.raises(FieldError, match="case-sensitive"):
        fields.parse_zone("europe/berlin")
    for hostile in ("../../etc/passwd", "/etc/localtime", "", "x" * 100):
        with pytest.raises(FieldError) as caught:
            zone(hostile)
        assert caught.value.field == "tz"


def test_cron() -> None:
    assert fields.parse_cron("  0 9  * * 1-5 ", "start") == "0 9 * * 1-5"
    with pytest.raises(FieldError, match="has 6 fields"):
        fields.parse_cron("0 0 9 * * 1-5", "start")
    with pytest.raises(FieldError, match="not a valid cron expression") as caught:
        fields.parse_cron("0 25 * * *", "stop")
    assert caught.value.field == "stop"
    with pytest.raises(FieldError, match="same times as start"):
        fields.check_cron_pair("0 9 * * 1-5", "0 9 * * mon-fri", zone("UTC"))
    fields.check_cron_pair("0 9 * * 1-5", "0 18 * * 1-5", zone("UTC"))


def test_instants() -> None:
    assert fields.parse_instant("2025-12-24T18:00:00+01:00", "from") == datetime(
        2025, 12, 24, 17, 0, tzinfo=UTC
    )
    assert fields.parse_instant("2025-12-24T18:00:00Z", "until").utcoffset() == timedelta(0)
    with pytest.raises(FieldError, match="needs an offset") as caught:
        fields.parse_instant("2025-12-24T18:00:00", "until")
    assert caught.value.field == "until"
    with pytest.raises(FieldError, match="not an ISO 8601"):
        fields.parse_instant("tomorrow", "from")


def test_weekly_text_needs_three_parts() -> None:
    with pytest.raises(FieldError, match="DAYS START-END ZONE"):
        fields.split_weekly("Mon-Fri 09:00-18:00")
    with pytest.raises(FieldError, match="longer than"):
        fields.split_weekly("Mon " * 100)
