"""A recurring problem is said once per change, and its end once."""

from __future__ import annotations

from mlctl.monitor.problems import ProblemLine


def test_a_problem_is_said_once_per_change_and_its_end_once() -> None:
    said: list[str] = []
    line = ProblemLine(said.append, "notes: ", "notes readable again")
    line.problem("403")
    line.problem("403")
    line.problem("timeout")
    line.cleared()
    line.cleared()
    line.problem("403")
    assert said == ["notes: 403", "notes: timeout", "notes readable again", "notes: 403"]


def test_without_a_recovery_line_the_end_of_a_problem_is_silent() -> None:
    said: list[str] = []
    line = ProblemLine(said.append)
    line.problem("lock refused")
    line.problem("")  # the same as cleared
    line.problem("lock refused")
    assert said == ["lock refused", "lock refused"]
