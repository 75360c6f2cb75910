"""The event fold behind `mlctl cluster provision`, fed with recorded runner events."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mlctl.provision.display import Progress, render, summary_rows
from mlctl.provision.events import RunState, failure_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ansible"


def recorded_events() -> list[dict]:
    return json.loads((FIXTURES / "events-failed-run.json").read_text())


def fold(events: list[dict]) -> RunState:
    state = RunState()
    for event in events:
        state.apply(event)
    return state


def test_a_recorded_failed_run_gives_counts_and_the_failure():
    state = fold(recorded_events())
    assert state.finished
    assert not state.ok
    local = state.hosts["local"]
    assert (local.ok, local.changed, local.failed, local.skipped) == (2, 2, 1, 1)
    assert local.status == "failed"
    [failure] = state.failures
    assert failure.host == "local"
    assert failure.task == "Fail when asked to"
    assert failure.message == "asked to fail: boom"


def test_progress_before_the_stats_event_tracks_the_current_task():
    events = recorded_events()
    stats_at = next(i for i, e in enumerate(events) if e["event"] == "playbook_on_stats")
    state = fold(events[:stats_at])
    assert not state.finished
    assert not state.ok  # unfinished runs are never reported as a success
    assert state.play == "Write a greeting into a temporary directory"
    assert state.hosts["local"].task == "Fail when asked to"
    assert state.tasks_started == 4


def test_the_stats_event_is_authoritative():
    state = RunState()
    state.apply({"event": "runner_on_ok", "event_data": {"host": "a", "res": {"changed": True}}})
    state.apply(
        {
            "event": "playbook_on_stats",
            "event_data": {"ok": {"a": 7, "b": 3}, "changed": {"a": 0}, "dark": {"b": 1}},
        }
    )
    assert state.hosts["a"].ok == 7
    assert state.hosts["a"].changed == 0
    assert state.hosts["b"].status == "unreachable"
    assert not state.ok


def test_ignored_errors_do_not_fail_the_host():
    state = RunState()
    state.apply(
        {
            "event": "runner_on_failed",
            "event_data": {"host": "a", "task": "t", "ignore_errors": True, "res": {"msg": "x"}},
        }
    )
    assert state.hosts["a"].failed == 0
    assert state.hosts["a"].ignored == 1
    assert state.failures == []


def test_unreachable_hosts_become_failures_with_the_reason():
    state = RunState()
    state.apply(
        {
            "event": "runner_on_unreachable",
            "event_data": {
                "host": "gpu-1",
                "task": "Gathering Facts",
                "res": {"msg": "Failed to connect to the host via ssh: No route to host"},
            },
        }
    )
    [failure] = state.failures
    assert failure.unreachable
    assert "No route to host" in failure.message


def test_role_names_prefix_task_names():
    state = RunState()
    state.apply(
        {
            "event": "playbook_on_task_start",
            "event_data": {"task": "Install nginx", "role": "artifact_store"},
        }
    )
    assert state.task == "artifact_store : Install nginx"


@pytest.mark.parametrize(
    ("res", "expected"),
    [
        ({"msg": "plain"}, "plain"),
        ({"stderr": "line one\n  line two"}, "line one line two"),
        ({"module_stderr": "Traceback", "msg": "MODULE FAILURE"}, "MODULE FAILURE"),
        (
            {
                "msg": "One or more items failed",
                "results": [{"item": "x", "failed": True, "msg": "bad x"}],
            },
            "One or more items failed — item 'x': bad x",
        ),
        ({}, "no message from Ansible"),
    ],
)
def test_failure_messages_are_plain_words(res, expected):
    assert failure_message(res) == expected


def test_long_messages_are_shortened():
    assert len(failure_message({"msg": "x" * 5000})) == 600


def test_plain_progress_logs_plays_tasks_and_failures():
    stream = io.StringIO()
    progress = Progress(stream=stream, live=False)
    state = RunState()
    with progress:
        for event in recorded_events():
            state.apply(event)
            progress.update(state, event)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "PLAY Write a greeting into a temporary directory"
    assert "  task Write the greeting file" in lines
    # A marker only: the message is said once, by the command's closing report.
    assert lines[-1].startswith("  FAILED local at ")
    assert "boom" not in stream.getvalue()


def test_live_view_shows_each_host_and_its_counts():
    from rich.console import Console

    state = fold(recorded_events()[:-1])
    console = Console(file=io.StringIO(), width=150)
    console.print(render(state))
    text = console.file.getvalue()
    assert "Write a greeting" in text
    assert "local" in text and "Fail when asked to" in text


def test_summary_rows_are_sorted_by_host():
    state = RunState()
    for host in ("b", "a"):
        state.host(host)
    assert [row["host"] for row in summary_rows(state)] == ["a", "b"]
