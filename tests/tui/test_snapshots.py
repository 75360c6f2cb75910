"""Snapshot tests: each screen of the TUI drawn at a fixed size from the fixed demo cluster.

The demo (tests/tui/demo.py) has a clock that stands still, fixed IDs and fixed metrics,
and every background read is awaited before the picture is taken, so a difference is a
change in what the screen draws. After an intended change, look at the new pictures and
accept them with ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from textual.widgets import Input

from tests.tui.demo import demo_app, settled
from tests.tui.support import wait_for, wait_for_text

SIZE = (160, 40)


async def steady(pilot) -> None:
    """No blinking cursor, nothing pending."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def test_models_screen(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await steady(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_model_detail_of_a_failing_model(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        pilot.app.screen.table.move_to("team-a/mlctl-churn")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: getattr(pilot.app.screen, "history", None) is not None, "the versions"
        )
        await wait_for_text(pilot, "ModuleNotFoundError")
        await steady(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_nodes_screen_with_the_gpus_of_a_node(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("2")
        await wait_for_text(pilot, "ELIGIBILITY")
        await pilot.press("down")
        await wait_for_text(pilot, "GPUs of gpu-1")
        await steady(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_schedules_screen(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("3")
        await wait_for_text(pilot, "NEXT START")
        pilot.app.screen.table.move_to("default/mlctl-iris")
        await wait_for_text(pilot, "Windows of iris in default")
        await steady(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_alerts_and_events_screen(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("4")
        await wait_for_text(pilot, "acknowledged by bob")
        await steady(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_logs_with_a_search(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        pilot.app.screen.table.move_to("default/mlctl-iris")
        await pilot.press("l")
        await wait_for_text(pilot, "/readyz")
        await wait_for(pilot, lambda: pilot.app.screen.buffer.lines.__len__() == 8, "all lines")
        await pilot.press("slash", *"predict", "enter", "n")
        await wait_for_text(pilot, "4 matches")
        await steady(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_schedule_form_checks_fields_as_typed(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("3")
        await wait_for_text(pilot, "NEXT START")
        pilot.app.screen.table.move_to("default/mlctl-iris")
        await pilot.press("a")
        await wait_for_text(pilot, "Add a window to the schedule of iris")
        form = pilot.app.screen
        form.query_one("#f-days").value = "Sat,Sun"
        form.query_one("#f-time").value = "22:00-02:00"
        form.query_one("#f-weekly_tz").value = "Europe/Berln"
        await wait_for_text(pilot, "did you mean Europe/Berlin?")
        await steady(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


def test_destructive_confirmation(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        pilot.app.screen.table.move_to("default/mlctl-iris")
        await pilot.press("c", "ctrl+a", "ctrl+k", "0", "enter")
        await wait_for_text(pilot, "Press y to confirm")
        await steady(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)
