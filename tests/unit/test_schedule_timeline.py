"""desired() and next_transitions() on hand-checked cases, DST days included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mlctl.schedule.spec import ScheduleSection
from mlctl.schedule.timeline import Schedule, desired, last_change, next_transitions

BERLIN = ZoneInfo("Europe/Berlin")


def schedule(*windows: dict[str, object], replicas: int = 2, idle: int | None = None) -> Schedule:
    raw: dict[str, object] = {"windows": list(windows)}
    if idle is not None:
        raw["idle_replicas"] = idle
    return ScheduleSection.model_validate(raw).compile(replicas)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold)  # type: ignore[misc]


OFFICE = schedule({"window": "Mon-Fri 09:00-18:00 Europe/Berlin"})


@pytest.mark.parametrize(
    ("when", "count"),
    [
        (local("Europe/Berlin", 2024, 5, 6, 8, 59, 59), 0),  # Monday
        (local("Europe/Berlin", 2024, 5, 6, 9, 0), 2),
        (local("Europe/Berlin", 2024, 5, 6, 17, 59, 59), 2),
        (local("Europe/Berlin", 2024, 5, 6, 18, 0), 0),
        (local("Europe/Berlin", 2024, 5, 11, 12, 0), 0),  # Saturday
        # Monday after the March change (CEST, UTC+2) and after October's (CET, UTC+1)
        (utc(2024, 4, 1, 6, 59), 0),
        (utc(2024, 4, 1, 7, 0), 2),
        (utc(2024, 10, 28, 7, 59), 0),
        (utc(2024, 10, 28, 8, 0), 2),
        (utc(2024, 10, 28, 17, 0), 0),
    ],
)
def test_office_hours(when: datetime, count: int) -> None:
    assert desired(OFFICE, when) == count


def test_next_transitions_from_saturday() -> None:
    found = next_transitions(OFFICE, local("Europe/Berlin", 2024, 3, 30, 12, 0), 4)
    assert [t.to_dict() for t in found] == [
        {"at": "2024-04-01T07:00:00Z", "replicas": 2},  # Monday 09:00 CEST
        {"at": "2024-04-01T16:00:00Z", "replicas": 0},
        {"at": "2024-04-02T07:00:00Z", "replicas": 2},
        {"at": "2024-04-02T16:00:00Z", "replicas": 0},
    ]


def test_window_across_midnight() -> None:
    late = schedule({"window": "Fri 22:00-02:00 UTC"})
    assert desired(late, utc(2024, 5, 10, 21, 59)) == 0
    assert desired(late, utc(2024, 5, 10, 22, 0)) == 2
    assert desired(late, utc(2024, 5, 11, 1, 59)) == 2  # Saturday morning
    assert desired(late, utc(2024, 5, 11, 2, 0)) == 0
    assert desired(late, utc(2024, 5, 9, 23, 0)) == 0  # Thursday night
    found = next_transitions(late, utc(2024, 5, 9, 0, 0), 2)
    assert [(t.at, t.replicas) for t in found] == [
        (utc(2024, 5, 10, 22, 0), 2),
        (utc(2024, 5, 11, 2, 0), 0),
    ]


def test_window_ending_at_24() -> None:
    evening = schedule({"window": "Mon 18:00-24:00 UTC"})
    assert desired(evening, utc(2024, 5, 6, 23, 59, 59)) == 2
    assert desired(evening, utc(2024, 5, 7, 0, 0)) == 0
    found = next_transitions(evening, utc(2024, 5, 6, 12, 0), 2)
    assert [t.at for t in found] == [utc(2024, 5, 6, 18, 0), utc(2024, 5, 7, 0, 0)]


def test_back_to_back_days_do_not_flap() -> None:
    always = schedule({"window": "Mon-Sun 00:00-24:00 Europe/Berlin"})
    assert desired(always, utc(2024, 3, 31, 1, 0)) == 2
    assert next_transitions(always, utc(2024, 1, 1), 3) == []
    weekdays = schedule({"window": "Mon-Fri 00:00-24:00 UTC"})
    found = next_transitions(weekdays, utc(2024, 5, 6, 12, 0), 2)  # Monday noon
    assert [(t.at, t.replicas) for t in found] == [
        (utc(2024, 5, 11, 0, 0), 0),
        (utc(2024, 5, 13, 0, 0), 2),
    ]


def test_overlaps_take_the_largest_and_down_wins() -> None:
    mixed = schedule(
        {"window": "Mon-Fri 09:00-18:00 UTC", "replicas": 2},
        {"window": "Mon-Fri 12:00-14:00 UTC", "replicas": 5},
        {"window": "Wed 13:00-15:00 UTC", "down": True},
        idle=1,
    )
    monday, wednesday = (2024, 5, 6), (2024, 5, 8)
    assert desired(mixed, utc(*monday, 8, 0)) == 1
    assert desired(mixed, utc(*monday, 10, 0)) == 2
    assert desired(mixed, utc(*monday, 12, 30)) == 5
    assert desired(mixed, utc(*wednesday, 13, 30)) == 0
    assert desired(mixed, utc(*wednesday, 15, 0)) == 2
    found = next_transitions(mixed, utc(*wednesday, 11, 0), 4)
    assert [(t.at.hour, t.replicas) for t in found] == [(12, 5), (13, 0), (15, 2), (18, 1)]


def test_only_down_windows_run_the_bundle_replicas_otherwise() -> None:
    maintenance = schedule({"window": "Sun 02:00-04:00 UTC", "down": True}, replicas=3)
    assert desired(maintenance, utc(2024, 5, 12, 3, 0)) == 0
    assert desired(maintenance, utc(2024, 5, 12, 5, 0)) == 3


def test_one_off_window() -> None:
    once = schedule(
        {"from": "2024-12-24T18:00:00+01:00", "until": "2024-12-27T00:00:00+01:00", "replicas": 4}
    )
    assert desired(once, utc(2024, 12, 24, 16, 59)) == 0
    assert desired(once, utc(2024, 12, 24, 17, 0)) == 4
    assert [t.to_dict() for t in next_transitions(once, utc(2024, 1, 1), 5)] == [
        {"at": "2024-12-24T17:00:00Z", "replicas": 4},
        {"at": "2024-12-26T23:00:00Z", "replicas": 0},
    ]


def test_cron_pair_matches_the_weekly_form() -> None:
    cron = schedule({"start": "0 9 * * 1-5", "stop": "0 18 * * 1-5", "tz": "Europe/Berlin"})
    start = local("Europe/Berlin", 2024, 3, 29, 0, 0)
    assert next_transitions(cron, start, 6) == next_transitions(OFFICE, start, 6)
    assert desired(cron, utc(2024, 10, 28, 8, 0)) == 2


# --- DST: the documented rules, on the days they matter ---------------------------------


def test_edge_in_a_gap_takes_effect_when_the_clocks_jump() -> None:
    # Berlin, 2024-03-31: 02:00 CET -> 03:00 CEST at 01:00 UTC.
    night = schedule({"window": "Sun 02:30-04:00 Europe/Berlin"})
    found = next_transitions(night, utc(2024, 3, 30), 2)
    assert [t.at for t in found] == [utc(2024, 3, 31, 1, 0), utc(2024, 3, 31, 2, 0)]


def test_a_window_inside_a_gap_keeps_its_length() -> None:
    tiny = schedule({"window": "Sun 02:10-02:40 Europe/Berlin"})
    found = next_transitions(tiny, utc(2024, 3, 30), 2)
    assert [t.at for t in found] == [utc(2024, 3, 31, 1, 0), utc(2024, 3, 31, 1, 30)]


def test_edge_in_a_fold_takes_effect_once_at_its_first_occurrence() -> None:
    # Berlin, 2024-10-27: 03:00 CEST -> 02:00 CET at 01:00 UTC; 02:30 happens twice.
    night = schedule({"window": "Sun 02:30-02:45 Europe/Berlin"})
    found = next_transitions(night, utc(2024, 10, 26), 3)
    assert [t.at for t in found[:2]] == [utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 0, 45)]
    assert found[2].at == utc(2024, 11, 3, 1, 30)  # next Sunday, CET
    assert desired(night, local("Europe/Berlin", 2024, 10, 27, 2, 35, fold=1)) == 0


def test_lord_howe_half_hour_shift() -> None:
    # 2024-10-06 02:00 +10:30 -> 02:30 +11:00; 2024-04-07 02:00 +11:00 -> 01:30 +10:30.
    gap = schedule({"window": "Sun 02:15-03:00 Australia/Lord_Howe"})
    found = next_transitions(gap, utc(2024, 10, 4), 2)
    assert [t.at for t in found] == [utc(2024, 10, 5, 15, 30), utc(2024, 10, 5, 16, 0)]
    fold = schedule({"window": "Sun 01:45-03:00 Australia/Lord_Howe"})
    found = next_transitions(fold, utc(2024, 4, 5), 2)
    assert found[0].at == utc(2024, 4, 6, 14, 45)  # 01:45 +11:00, the first pass
    assert found[1].at == utc(2024, 4, 6, 16, 30)  # 03:00 +10:30


def test_sao_paulo_midnight_changes() -> None:
    # 2018-11-04 00:00 -03 -> 01:00 -02: midnight did not exist.
    morning = schedule({"window": "Sun 00:00-06:00 America/Sao_Paulo"})
    found = next_transitions(morning, utc(2018, 11, 3), 2)
    assert [t.at for t in found] == [utc(2018, 11, 4, 3, 0), utc(2018, 11, 4, 8, 0)]
    evening = schedule({"window": "Sat 20:00-24:00 America/Sao_Paulo"})
    found = next_transitions(evening, utc(2018, 11, 3), 2)
    assert [t.at for t in found] == [utc(2018, 11, 3, 23, 0), utc(2018, 11, 4, 3, 0)]
    # 2019-02-17 00:00 -02 -> 2019-02-16 23:00 -03: 23:xx on Saturday happens twice.
    late = schedule({"window": "Sat 23:00-23:30 America/Sao_Paulo"})
    found = next_transitions(late, utc(2019, 2, 16), 2)
    assert [t.at for t in found] == [utc(2019, 2, 17, 1, 0), utc(2019, 2, 17, 1, 30)]


def test_cron_pair_in_the_second_pass_of_a_fold() -> None:
    # Opened at 02:45 in the first pass; at 02:10 of the second pass it is still open.
    cron = schedule({"start": "45 2 * * *", "stop": "0 1 * * *", "tz": "Europe/Berlin"})
    assert desired(cron, local("Europe/Berlin", 2024, 10, 27, 2, 10, fold=1)) == 2
    assert desired(cron, local("Europe/Berlin", 2024, 10, 27, 2, 10, fold=0)) == 0


def test_last_change_names_the_window() -> None:
    found = last_change(OFFICE, local("Europe/Berlin", 2024, 5, 6, 9, 30))
    assert found is not None
    assert found[0].label == "Mon-Fri 09:00-18:00 Europe/Berlin" and found[1] is True
    found = last_change(OFFICE, local("Europe/Berlin", 2024, 5, 11, 9, 30))  # Saturday
    assert found is not None and found[1] is False
    assert last_change(OFFICE, local("Europe/Berlin", 2024, 5, 6, 9, 30) - timedelta(days=1))


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        desired(OFFICE, datetime(2024, 5, 6, 9, 0))
