"""The JSONL event log: append, rotate, read across rotations, filter, follow, no secrets."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlctl import redact
from mlctl.monitor import eventlog
from mlctl.monitor.clock import ManualClock
from mlctl.monitor.eventlog import EventLog, Filter


def test_records_have_time_and_kind_and_read_back_in_order(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
    log = EventLog(tmp_path / "events.jsonl", clock)
    log.append("alert", model="iris", namespace="default", status="firing")
    clock.advance(5)
    log.append("audit", who="alice", what="scale iris 3", result="ok")
    records = list(eventlog.read(log.path))
    assert [r["kind"] for r in records] == ["alert", "audit"]
    assert records[0]["time"] == "2025-01-01T00:00:00+00:00"
    assert (log.path.stat().st_mode & 0o777) == 0o600


def test_rotation_keeps_backups_and_readers_see_everything(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "logs" / "events.jsonl", max_bytes=400, backups=2)
    for n in range(30):
        log.append("probe", model="iris", n=n)
    rotated = sorted(p.name for p in log.path.parent.iterdir())
    assert rotated == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    numbers = [r["n"] for r in eventlog.read(log.path)]
    assert numbers == sorted(numbers) and numbers[-1] == 29
    assert len(numbers) < 30  # the oldest fell off after two backups


def test_filters_by_model_kind_time_and_regex(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
    log = EventLog(tmp_path / "events.jsonl", clock)
    log.append("alert", model="iris", message="crash loop")
    clock.advance(60)
    log.append("alert", model="bert", message="p99 high")
    log.append("action", model="iris", message="restarted")
    iris = Filter(model="iris")
    assert [r["message"] for r in eventlog.read(log.path, iris)] == ["crash loop", "restarted"]
    assert len(list(eventlog.read(log.path, Filter(kinds=["action"])))) == 1
    assert len(list(eventlog.read(log.path, Filter(grep="p99|crash")))) == 2
    later = Filter(since=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=30))
    assert len(list(eventlog.read(log.path, later))) == 2
    with pytest.raises(ValueError, match="not a regular expression"):
        Filter(grep="(")


def test_a_partial_last_line_is_skipped(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.append("monitor", message="ok")
    with log.path.open("a") as handle:
        handle.write('{"time": "2025-01-01T00:00:00+00:00", "kind": "al')
    assert [r["message"] for r in eventlog.read(log.path)] == ["ok"]


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    redact.register("s3cr3t-webhook-token")
    log = EventLog(tmp_path / "events.jsonl")
    log.append("notification", url="https://hooks/x?token=s3cr3t-webhook-token")
    assert "s3cr3t" not in log.path.read_text()


def test_listeners_see_each_record(tmp_path: Path) -> None:
    seen: list[str] = []
    log = EventLog(tmp_path / "events.jsonl", listeners=[lambda r: seen.append(r["kind"])])
    log.append("alert")
    assert seen == ["alert"]


def test_follow_sees_new_records_across_rotations(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl", max_bytes=300, backups=3)
    log.append("old", n=-1)
    got: list[int] = []
    done = threading.Event()

    def reader() -> None:
        probes = Filter(kinds=["probe"])
        for record in eventlog.follow(log.path, probes, done.is_set, poll=0.01, from_end=False):
            got.append(record["n"])

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    for n in range(12):
        log.append("probe", n=n)
        deadline = time.monotonic() + 10
        while len(got) <= n and time.monotonic() < deadline:
            time.sleep(0.005)
    done.set()
    thread.join(timeout=10)
    assert got == list(range(12))
    assert len(eventlog.files(log.path)) > 1  # it really rotated while we followed
