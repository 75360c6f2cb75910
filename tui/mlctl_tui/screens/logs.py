"""Logs: follow one allocation's stdout/stderr, or every allocation of a model merged
with an allocation prefix (what ``nomad alloc logs`` cannot do, Nomad #10308), and the
logs of the previous instance of an allocation (k9s's ``-p``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from mlctl.monitor.views import AllocView, ModelView
from mlctl.render import TASK_NAME
from mlctl_tui.core.formatting import short_id
from mlctl_tui.core.logbuffer import LogBuffer, LogLine, LogSearch
from mlctl_tui.screens.base import BaseScreen
from mlctl_tui.services.backend import Follow
from mlctl_tui.services.logs import PREVIOUS_BYTES, LogTarget
from mlctl_tui.state import View
from mlctl_tui.widgets.common.filter_bar import FilterBar
from mlctl_tui.widgets.logs.log_view import LogView

STREAMS: tuple[tuple[str, ...], ...] = (("stdout",), ("stderr",), ("stdout", "stderr"))


class LogChunk(Message):
    def __init__(self, source: str, stream: str, data: bytes) -> None:
        super().__init__()
        self.source = source
        self.stream = stream
        self.data = data


class LogEnded(Message):
    def __init__(self, source: str, stream: str, why: str) -> None:
        super().__init__()
        self.source = source
        self.stream = stream
        self.why = why


def task_of(alloc: AllocView) -> str:
    tasks = {e.task for e in alloc.last_events if e.task}
    return TASK_NAME if TASK_NAME in tasks or not tasks else sorted(tasks)[0]


@dataclass(frozen=True)
class Previous:
    """Whose log the screen shows instead of following the allocation."""

    alloc_id: str
    note: str  #: what it is, for the title


def previous_of(alloc: AllocView, replaced: str) -> Previous | None:
    """The previous instance of ``alloc``: the allocation it replaced in its slot, else
    its own earlier runs when its task restarted in place (Nomad appends every run of a
    task to one log), else none."""
    if replaced:
        return Previous(
            replaced, f"previous instance {short_id(replaced)} (replaced by {short_id(alloc.id)})"
        )
    if alloc.restarts > 0:
        runs = "run" if alloc.restarts == 1 else "runs"
        return Previous(
            alloc.id,
            f"earlier {runs} of {short_id(alloc.id)} ({alloc.restarts} restarts in place; "
            "one log holds every run, the last MiB shown)",
        )
    return None


def default_save_path(model: str, now: datetime) -> str:
    return str(Path.cwd() / f"{model}-{now:%Y%m%d-%H%M%S}.log")


def save_lines(path: str, lines: list[str]) -> int:
    """Write ``lines`` to a new file (0600: logs can hold private data); never overwrite."""
    target = Path(path).expanduser()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
    return len(lines)


class LogsScreen(BaseScreen):
    PURPOSE = (
        "Follow logs: one allocation, or every allocation of a model merged, each line "
        "prefixed with its allocation. Search highlights matches (n/N jump between them), "
        "space pauses (lines keep arriving in the buffer), w wraps, o switches stdout / "
        "stderr / both, s saves what is shown to a file, f follows again after a stream ended, "
        "p shows the previous instance of the allocation (the one it replaced, or the "
        "task's earlier runs) and back."
    )

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("N", "previous_match", "Previous", show=False),
        Binding("space", "pause", "Pause/resume"),
        Binding("w", "wrap", "Wrap"),
        Binding("o", "streams", "stdout/stderr"),
        Binding("s", "save", "Save"),
        Binding("f", "refollow", "Follow again"),
        Binding("p", "previous", "Previous instance"),
    ]

    def __init__(self, model: ModelView, allocs: list[AllocView]) -> None:
        super().__init__()
        self.model = model
        self.allocs = allocs
        self.buffer = LogBuffer()
        self.pending: list[LogLine] = []
        self.paused = False
        self.streams = STREAMS[0]
        self.followers: list[Follow] = []
        self.ended: dict[tuple[str, str], str] = {}
        self.previous: Previous | None = None

    @property
    def merged(self) -> bool:
        return len(self.allocs) > 1

    def compose_body(self) -> ComposeResult:
        yield Static("", id="log-title", markup=False)
        yield FilterBar("search (regex; highlights matches)", id="search")
        yield LogView(prefixed=self.merged, id="log")

    def on_mount(self) -> None:
        self.query_one(LogView).focus()
        super().on_mount()
        self.start_following()

    def on_unmount(self) -> None:
        self.stop_following()

    def render_view(self, view: View) -> None:
        self._title()

    def _title(self) -> None:
        sources = ", ".join(short_id(a.id) for a in self.allocs[:4])
        if len(self.allocs) > 4:
            sources += f" … ({len(self.allocs)} allocations)"
        state = "paused" if self.paused else "following"
        if self.previous is not None:
            state = self.previous.note + " (p: back to following)"
        elif self.ended and len(self.ended) == len(self.followers):
            state = "ended (f follows again)"
        log = self.query_one(LogView)
        flags = [state, "/".join(self.streams)]
        if log.wrap:
            flags.append("wrap")
        if self.pending:
            flags.append(f"{len(self.pending)} new lines waiting")
        if self.buffer.dropped:
            flags.append(f"{self.buffer.dropped} oldest lines dropped")
        if log.search.pattern is not None:
            flags.append(
                f"{len(log.matches)} matches"
                + (f" ({log.search.error})" if log.search.error else "")
            )
        self.query_one("#log-title", Static).update(
            Text.assemble(
                "Logs of ",
                (self.model.name, "bold"),
                f" in {self.model.namespace} · {sources} · " + " · ".join(flags),
            )
        )

    # ------------------------------------------------------------------ following

    def start_following(self) -> None:
        self.stop_following()
        self.ended.clear()
        backend = self.mlctl.backend
        for alloc in self.allocs:
            for stream in self.streams:
                target = self._target(alloc, stream)
                follower = backend.follow_log(alloc.namespace, target, self._sink, self._ended)
                self.followers.append(follower)
                self.run_worker(follower.run, thread=True, group="logs", exit_on_error=False)
        self._title()

    def _target(self, alloc: AllocView, stream: str) -> LogTarget:
        task = task_of(alloc)
        if self.previous is None:
            return LogTarget(alloc.id, task, stream, short_id(alloc.id))  # type: ignore[arg-type]
        source = self.previous.alloc_id
        return LogTarget(source, task, stream, short_id(source), follow=False,  # type: ignore[arg-type]
                         tail_bytes=PREVIOUS_BYTES)  # fmt: skip

    def stop_following(self) -> None:
        for follower in self.followers:
            follower.stop()
        self.followers = []

    def _sink(self, source: str, stream: str, data: bytes) -> None:
        self.post_message(LogChunk(source, stream, data))  # from the worker thread

    def _ended(self, source: str, stream: str, why: str) -> None:
        self.post_message(LogEnded(source, stream, why))

    def on_log_chunk(self, message: LogChunk) -> None:
        self._show(self.buffer.feed(message.source, message.stream, message.data))

    def on_log_ended(self, message: LogEnded) -> None:
        self.ended[(message.source, message.stream)] = message.why
        lines = self.buffer.flush()
        if message.why:
            note = LogLine(
                message.source, "note", f"— {message.stream} of {message.source}: {message.why}"
            )
            self.buffer.extend([note])
            lines.append(note)
        self._show(lines)
        self._title()

    def _show(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        if self.paused:
            self.pending.extend(lines)
            self._title()
        else:
            self.query_one(LogView).append(lines)

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        self.stop_following()
        self.app.pop_screen()

    def action_search(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.query_one(LogView).set_search(LogSearch.parse(event.row_filter.text))
        self._title()

    def on_filter_bar_done(self, _event: FilterBar.Done) -> None:
        self.query_one(LogView).focus()

    def action_next_match(self) -> None:
        if self.query_one(LogView).jump_match(1) is None:
            self.notify("no match", severity="warning")
        self._title()

    def action_previous_match(self) -> None:
        self.query_one(LogView).jump_match(-1)
        self._title()

    def action_pause(self) -> None:
        log = self.query_one(LogView)
        self.paused = not self.paused
        if self.paused:
            log.follow = False
        else:
            log.follow = True
            pending, self.pending = self.pending, []
            log.append(pending)
            log.scroll_end(animate=False)
        self._title()

    def action_wrap(self) -> None:
        log = self.query_one(LogView)
        log.set_wrap(not log.wrap)
        self._title()

    def action_streams(self) -> None:
        index = STREAMS.index(self.streams)
        self.streams = STREAMS[(index + 1) % len(STREAMS)]
        log = self.query_one(LogView)
        log.tagged = len(self.streams) > 1
        self.buffer.clear()
        self.pending = []
        log.set_lines([])
        self.start_following()

    def action_previous(self) -> None:
        if self.previous is not None:
            self.previous = None
            self.action_refollow()
            return
        if self.merged:
            self.notify(
                "the previous instance is per allocation: open one allocation's logs "
                "(l on the model's allocations)",
                severity="warning",
            )
            return
        alloc = self.allocs[0]

        def found(replaced: str) -> None:
            previous = previous_of(alloc, replaced)
            if previous is None:
                self.notify(
                    f"{short_id(alloc.id)} replaced no allocation and its task never "
                    "restarted: there is no previous instance",
                    severity="warning",
                )
                return
            self.previous = previous
            self._restart()

        backend = self.mlctl.backend
        self.mlctl.prepare(
            lambda: backend.previous_instance(alloc.namespace, alloc.id),
            found,
            "find the previous instance",
        )

    def action_refollow(self) -> None:
        self.previous = None
        self._restart()

    def _restart(self) -> None:
        self.buffer.clear()
        self.pending = []
        self.query_one(LogView).set_lines([])
        self.start_following()

    def action_save(self) -> None:
        from mlctl_tui.screens.modals import TextPrompt

        def check(text: str) -> str:
            path = Path(text).expanduser()
            if not text.strip():
                return "give a file name"
            if path.exists():
                return "that file exists; choose a new name"
            if not path.parent.is_dir():
                return f"no directory {path.parent}"
            return ""

        lines = self.query_one(LogView).texts()

        def chosen(path: str | None) -> None:
            if path is None:
                return

            def write() -> int:
                try:
                    return save_lines(path, lines)
                except OSError as error:
                    from mlctl.errors import InvalidInput

                    raise InvalidInput(f"cannot write {path}: {error.strerror or error}") from error

            self.mlctl.prepare(
                write, lambda n: self.notify(f"saved {n} lines to {path}"), "save the log"
            )

        self.app.push_screen(
            TextPrompt(
                "Save the log",
                f"{len(lines)} lines shown; save them to:",
                default_save_path(self.model.name, self.mlctl.view.now),
                check,
            ),
            chosen,
        )
