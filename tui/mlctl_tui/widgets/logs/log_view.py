"""LogView: merged log lines with search highlights, wrap and pause (line API)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlctl_tui.core.logbuffer import LogLine, LogSearch, wrap


class LogView(ScrollView, can_focus=True):
    """Shows lines; while paused, new lines wait in the buffer and the view stands still."""

    COMPONENT_CLASSES = {
        "log-view--stderr",
        "log-view--match",
        "log-view--current",
        "log-view--note",
    }

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView > .log-view--stderr { color: $warning; }
    LogView > .log-view--match { background: $accent 50%; text-style: bold; }
    LogView > .log-view--current { background: $accent; text-style: bold reverse; }
    LogView > .log-view--note { color: $text-muted; text-style: italic; }
    """

    BINDINGS = [
        Binding("up", "scroll_up", "Up", show=False),
        Binding("down", "scroll_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]

    def __init__(self, *, prefixed: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[LogLine] = []
        self.prefixed = prefixed
        self.tagged = False
        self.wrap = False
        self.follow = True
        self.search = LogSearch.parse("")
        self.matches: list[int] = []
        self.current_match = -1
        self._rows: list[tuple[int, int, str]] = []  #: (line index, offset, piece)
        self._texts: list[str] = []
        self._width = 0

    # ------------------------------------------------------------------ content

    def set_lines(self, lines: Iterable[LogLine]) -> None:
        self.lines = list(lines)
        self._rebuild()

    def append(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        start = len(self.lines)
        self.lines.extend(lines)
        for index in range(start, len(self.lines)):
            self._add_rows(index)
        if self.search.pattern is not None:
            self.matches.extend(
                i
                for i in range(start, len(self.lines))
                if self.search.pattern.search(self._texts[i])
            )
        self._resize()
        if self.follow:
            self.scroll_end(animate=False)
        self.refresh()

    def _text(self, line: LogLine) -> str:
        return line.display(self.prefixed, self.tagged)

    def _add_rows(self, index: int) -> None:
        text = self._text(self.lines[index])
        self._texts.append(text)
        width = self._width if self.wrap else 0
        for offset, piece in wrap(text, width):
            self._rows.append((index, offset, piece))

    def _rebuild(self) -> None:
        self._width = max(1, self.size.width - 1)
        self._rows, self._texts = [], []
        for index in range(len(self.lines)):
            self._add_rows(index)
        self.matches = self.search.matches(self._texts)
        self.current_match = min(self.current_match, len(self.matches) - 1)
        self._resize()
        if self.follow:
            self.scroll_end(animate=False)
        self.refresh()

    def _resize(self) -> None:
        widest = max((cell_len(piece) for _i, _o, piece in self._rows), default=0)
        width = self.size.width if self.wrap else max(self.size.width, widest)
        self.virtual_size = Size(width, len(self._rows))

    def on_resize(self) -> None:
        if self.wrap and max(1, self.size.width - 1) != self._width:
            self._rebuild()
        else:
            self._resize()

    def set_wrap(self, wrap_lines: bool) -> None:
        self.wrap = wrap_lines
        self.styles.overflow_x = "hidden" if wrap_lines else "auto"
        self._rebuild()

    def set_search(self, search: LogSearch) -> None:
        self.search = search
        self.matches = search.matches(self._texts)
        self.current_match = -1
        self.refresh()

    def jump_match(self, direction: int) -> int | None:
        """Move to the next (1) or previous (-1) match; the line index, or None."""
        if not self.matches:
            return None
        self.current_match = (self.current_match + direction) % len(self.matches)
        line = self.matches[self.current_match]
        row = next(i for i, (index, _o, _p) in enumerate(self._rows) if index == line)
        self.follow = False
        self.scroll_to(y=max(0, row - self.size.height // 2), animate=False)
        self.refresh()
        return line

    def texts(self) -> list[str]:
        return list(self._texts)

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row_index = scroll_y + y
        width = self.size.width
        if row_index >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        index, offset, piece = self._rows[row_index]
        line = self.lines[index]
        base = self.rich_style
        if line.stream == "stderr":
            base = base + self.get_component_rich_style("log-view--stderr")
        if line.stream == "note":
            base = base + self.get_component_rich_style("log-view--note")
        segments = self._highlight(piece, offset, index, base)
        strip = Strip(segments)
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base)

    def _highlight(self, piece: str, offset: int, index: int, base: Style) -> list[Segment]:
        if self.search.pattern is None:
            return [Segment(piece, base)]
        current = self.current_match >= 0 and self.matches[self.current_match] == index
        mark = base + self.get_component_rich_style(
            "log-view--current" if current else "log-view--match"
        )
        segments: list[Segment] = []
        position = 0
        for start, end in self.search.spans(self._texts[index]):
            start, end = start - offset, end - offset
            if end <= 0 or start >= len(piece):
                continue
            start, end = max(0, start), min(len(piece), end)
            if start > position:
                segments.append(Segment(piece[position:start], base))
            segments.append(Segment(piece[start:end], mark))
            position = end
        if position < len(piece):
            segments.append(Segment(piece[position:], base))
        return segments
