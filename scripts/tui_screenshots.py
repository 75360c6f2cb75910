"""Draw the README's pictures of ``mlctl tui`` from the app itself (SVG, no hand drawing).

    python scripts/tui_screenshots.py [--out docs/tui]

It runs the real app headless on the demo cluster of the snapshot tests
(tests/tui/demo.py: a fixed clock, fixed IDs and metrics, an in-memory backend), goes to
each screen with the keys an operator would press, and saves one SVG per screen. Run it
again whenever a screen changes; the pictures come out the same for the same code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tui")]

from tests.tui.demo import NOW, demo_app, settled  # noqa: E402
from tests.tui.support import wait_for, wait_for_text  # noqa: E402

SIZE = (150, 38)


def seed_feed(app: Any) -> None:
    """A few recent events, so the Alerts & events picture shows its feed."""
    from mlctl_tui.core.feed import FeedEvent

    events = [
        (12, "info", "node gpu-1", "registered (ready)", "", ""),
        (
            9,
            "warning",
            "churn (team-a)",
            "allocation 3f1c2a90 restarted (3 restarts): Exit Code: 1",
            "churn",
            "team-a",
        ),
        (
            6,
            "critical",
            "churn (team-a)",
            "alert ModelCrashLooping firing: churn is crash-looping on cpu-1",
            "churn",
            "team-a",
        ),
        (
            4,
            "info",
            "alice (you)",
            "acknowledge ok: acknowledge alert ModelCrashLooping (churn)",
            "churn",
            "team-a",
        ),
        (
            2,
            "warning",
            "llama (default)",
            "alert ModelPlacementBlocked firing: Nomad cannot place llama",
            "llama",
            "default",
        ),
        (1, "info", "bert (team-a)", "canaries healthy, waiting for promotion", "bert", "team-a"),
    ]
    app.feed.add(
        FeedEvent(NOW - timedelta(minutes=m), sev, subject, text, model, namespace)
        for m, sev, subject, text, model, namespace in events
    )


async def models(pilot: Any) -> None:
    await pilot.pause()


async def detail(pilot: Any) -> None:
    pilot.app.screen.table.move_to("team-a/mlctl-churn")
    await pilot.press("enter")
    await wait_for(
        pilot, lambda: getattr(pilot.app.screen, "history", None) is not None, "the versions"
    )
    await wait_for_text(pilot, "ModuleNotFoundError")


async def nodes(pilot: Any) -> None:
    await pilot.press("2")
    await wait_for_text(pilot, "ELIGIBILITY")
    await pilot.press("down")
    await wait_for_text(pilot, "GPUs of gpu-1")


async def schedules(pilot: Any) -> None:
    await pilot.press("3")
    await wait_for_text(pilot, "NEXT START")
    pilot.app.screen.table.move_to("default/mlctl-iris")
    await wait_for_text(pilot, "Windows of iris")


async def schedule_form(pilot: Any) -> None:
    await schedules(pilot)
    await pilot.press("a")
    await wait_for_text(pilot, "Add a window")
    form = pilot.app.screen
    form.query_one("#f-days").value = "Sat,Sun"
    form.query_one("#f-time").value = "22:00-02:00"
    form.query_one("#f-weekly_tz").value = "Europe/Berlin"
    form.query_one("#f-replicas").value = "1"
    await wait_for(pilot, lambda: bool(form.preview_text), "the preview")


async def alerts(pilot: Any) -> None:
    seed_feed(pilot.app)
    await pilot.press("4")
    await wait_for_text(pilot, "acknowledged by bob")


async def logs(pilot: Any) -> None:
    pilot.app.screen.table.move_to("default/mlctl-iris")
    await pilot.press("l")
    await wait_for(pilot, lambda: len(pilot.app.screen.buffer.lines) == 8, "the log lines")
    await pilot.press("slash", *"predict", "enter")
    await wait_for_text(pilot, "4 matches")


async def confirm(pilot: Any) -> None:
    pilot.app.screen.table.move_to("default/mlctl-iris")
    await pilot.press("c", "ctrl+a", "ctrl+k", "0", "enter")
    await wait_for_text(pilot, "Press y to confirm")


SHOTS: dict[str, Callable[[Any], Awaitable[None]]] = {
    "models": models,
    "model-detail": detail,
    "nodes": nodes,
    "schedules": schedules,
    "schedule-form": schedule_form,
    "alerts-events": alerts,
    "logs": logs,
    "confirm-scale": confirm,
}


async def shoot(name: str, steps: Callable[[Any], Awaitable[None]], out: Path) -> Path:
    from textual.widgets import Input

    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await steps(pilot)
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()
        target = out / f"{name}.svg"
        target.write_text(app.export_screenshot(title=f"mlctl tui — {name}"), encoding="utf-8")
        return target


async def main_async(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, steps in SHOTS.items():
        print(await shoot(name, steps, out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "tui")
    asyncio.run(main_async(parser.parse_args().out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
