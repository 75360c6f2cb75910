"""Helpers for the TUI's tests: the screen as text, waiting for what it shows."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual.pilot import Pilot

#: Generous: the machine running the tests may be busy; waits end as soon as they can.
WAIT_SECONDS = 60.0


def screen_text(app: Any) -> str:
    """What the terminal shows right now, as plain text (like a screenshot, without SVG)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
    )
    render = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    console.print(render)
    return console.export_text()


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS
) -> None:
    """Let the app run until ``condition()`` holds (checked between UI steps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if condition():
            return
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


async def wait_for_text(pilot: Pilot[Any], text: str, timeout: float = WAIT_SECONDS) -> str:
    """Wait until the screen shows ``text``; returns the screen."""
    seen = ""

    def shown() -> bool:
        nonlocal seen
        seen = screen_text(pilot.app)
        return text in seen

    try:
        await wait_for(pilot, shown, f"the screen to show {text!r}", timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- screen ---\n{seen}") from None
    return seen
