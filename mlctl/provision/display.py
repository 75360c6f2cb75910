"""Show a playbook run as it happens, then summarise it.

On a terminal: a live table on stderr, one row per host with its current task and
counters. Elsewhere (CI logs, pipes): one plain line per play, per task and per
failed host (its message comes once, in the command's closing report), so the log
still tells the story. The summary and failures are plain data
that the command prints as a table or JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TextIO

from mlctl.provision.events import RunState
from mlctl.redact import scrub

SUMMARY_COLUMNS = {
    "host": "HOST",
    "status": "STATUS",
    "ok": "OK",
    "changed": "CHANGED",
    "failed": "FAILED",
    "skipped": "SKIPPED",
    "unreachable": "UNREACHABLE",
}


class Progress:
    """A context manager whose :meth:`update` is the runner's per-event callback."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live_mode = self.stream.isatty() if live is None else live
        self._live: Any = None
        self._last_play = ""
        self._failures_seen = 0
        self._marked: set[str] = set()

    def __enter__(self) -> Progress:
        if self.live_mode:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream)
            self._live = Live(render(RunState()), console=console, refresh_per_second=8)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, error, trace)

    def update(self, state: RunState, event: Mapping[str, Any]) -> None:
        """Redraw (terminal) or log (elsewhere) after one event."""
        if self._live is not None:
            self._live.update(render(state))
            return
        kind = event.get("event")
        if kind == "playbook_on_play_start" and state.play != self._last_play:
            self._last_play = state.play
            self._write(f"PLAY {state.play}")
        elif kind in {"playbook_on_task_start", "playbook_on_handler_task_start"}:
            self._write(f"  task {state.task}")
        while self._failures_seen < len(state.failures):
            failure = state.failures[self._failures_seen]
            self._failures_seen += 1
            # Only a marker: the message is printed once, by the command's closing report.
            mark = (
                f"  UNREACHABLE {failure.host}"
                if failure.unreachable
                else (f"  FAILED {failure.host} at {failure.task!r}")
            )
            if mark not in self._marked:
                self._marked.add(mark)
                self._write(mark)

    def _write(self, line: str) -> None:
        self.stream.write(scrub(line) + "\n")
        self.stream.flush()


def render(state: RunState) -> Any:
    """The live view: the current play and one row per host."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = Text.assemble(("PLAY ", "bold"), state.play or "starting…")
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    for header in ("HOST", "TASK", "OK", "CHANGED", "FAILED", "SKIPPED"):
        table.add_column(header, overflow="ellipsis", no_wrap=True, max_width=60)
    for host in sorted(state.hosts.values(), key=lambda h: h.name):
        style = "red" if host.status != "ok" else ""
        table.add_row(
            host.name,
            host.task or state.task,
            str(host.ok),
            str(host.changed),
            str(host.failed + host.unreachable),
            str(host.skipped),
            style=style,
        )
    return Group(title, table)


def summary_rows(state: RunState) -> list[dict[str, Any]]:
    """One row per host with Ansible's final counts."""
    return [h.to_dict() for h in sorted(state.hosts.values(), key=lambda h: h.name)]
