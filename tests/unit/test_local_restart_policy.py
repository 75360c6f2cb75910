"""Nomad's restart tracker: attempts per interval window, then fail or delay."""

from __future__ import annotations

from types import SimpleNamespace

from mlctl.local.engine.lifecycle import Lifecycle

SEC = 1_000_000_000


def alloc():
    return SimpleNamespace(restart_windows={}, created_at=0.0)


def decide(a, now, **policy):
    values = {"Attempts": 2, "Interval": 60 * SEC, "Delay": 5 * SEC, "Mode": "fail", **policy}
    return Lifecycle._restart_decision(a, "t", now, values)


def test_attempts_within_the_interval_then_fail():
    a = alloc()
    assert decide(a, 1) == (True, 5 * SEC, "Restart within policy")
    assert decide(a, 2)[0] is True
    restart, _, reason = decide(a, 3)
    assert not restart
    assert reason == 'Exceeded allowed attempts 2 in interval 1m0s and mode is "fail"'


def test_a_new_interval_starts_counting_again():
    a = alloc()
    decide(a, 1)
    decide(a, 2)
    assert decide(a, 70)[0] is True  # 70 s > the 60 s window since it opened at 0
    assert decide(a, 71)[0] is True
    assert decide(a, 72)[0] is False


def test_mode_delay_waits_for_the_window_to_end_and_never_fails():
    a = alloc()
    decide(a, 10, Mode="delay")
    decide(a, 20, Mode="delay")
    restart, delay, reason = decide(a, 30, Mode="delay")
    assert restart and delay == 30 * SEC  # the window that opened at 0 ends at 60
    assert "applying a delay" in reason
    assert decide(a, 61, Mode="delay") == (True, 5 * SEC, "Restart within policy")


def test_zero_attempts_never_restarts():
    assert decide(alloc(), 1, Attempts=0)[0] is False
