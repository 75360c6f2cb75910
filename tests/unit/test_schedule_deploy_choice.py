"""A deploy of a scheduled model: which count it registers (mlctl.deploy.replicas with the
schedule's decision from mlctl.schedule.cli_hooks)."""

from __future__ import annotations

import pytest

from mlctl.deploy.replicas import choose_replicas
from mlctl.schedule.cli_hooks import ScheduledDeploy
from mlctl.schedule.spec import StoredSchedule

DOC = StoredSchedule.model_validate({"windows": [{"window": "Mon-Fri 09:00-18:00 UTC"}]})


def scheduled(count: int, override: bool = False) -> ScheduledDeploy:
    return ScheduledDeploy("iris", count, f"note {count}", DOC, False, override)


@pytest.mark.parametrize(
    ("flag", "live", "reset", "plan", "count", "source"),
    [
        (None, 3, False, scheduled(0), 0, "schedule"),  # outside the window: 0, not live 3
        (None, None, False, scheduled(2), 2, "schedule"),  # a new job inside its window
        (None, 3, True, scheduled(0), 0, "schedule"),  # --reset-replicas: still scheduled
        (4, 3, False, scheduled(4, override=True), 4, "flag"),  # --replicas: an override
        (None, 3, False, None, 3, "live"),  # unscheduled or paused: the usual rules
    ],
)
def test_the_schedule_decides_before_the_live_count(flag, live, reset, plan, count, source):
    choice = choose_replicas(1, flag=flag, live=live, reset=reset, scheduled=plan)
    assert (choice.count, choice.source) == (count, source)
    assert choice.scheduled is plan
    if plan is not None:
        assert choice.note == plan.note

