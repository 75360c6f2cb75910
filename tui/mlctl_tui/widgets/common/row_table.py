"""RowTable: a table that draws only the rows on screen (Textual's line API).

Screens hand it rows already filtered and sorted (:mod:`mlctl_tui.core.table`), so a
refresh of a thousand models costs the time to draw the forty that are visible. It
keeps the cursor on the same row (by key) across refreshes, supports multi-select
with space, sorting by clicking a header, and the mouse.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlctl_tui.core.table import Column, TableRow

STYLES = ("healthy", "degraded", "failing", "deploying", "pending", "stopped")
MIN_FLEX = 8


def fit(text: str, width: int, align: str = "left") -> str:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` characters."""
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: width - 1] + "…" if width > 1 else text[:1]
    return text.rjust(width) if align == "right" else text.ljust(width)


def column_widths(columns: Sequence[Column], total: int) -> list[int]:
    """Fixed widths as given; the flexible column (width 0) takes what is left."""
    fixed = sum(c.width for c in columns if c.width) + max(0, len(columns) - 1)
    rest = max(MIN_FLEX, total - fixed)
    return [c.width or rest for c in columns]


class RowTable(ScrollView, can_focus=True):
    """A virtual table of :class:`TableRow` values."""

    COMPONENT_CLASSES = {
        "row-table--header",
        "row-table--cursor",
        "row-table--selected",
        *(f"row-table--{name}" for name in STYLES),
    }

    DEFAULT_CSS = """
    RowTable { height: 1fr; overflow-x: hidden; }
    RowTable > .row-table--header { text-style: bold; background: $panel; }
    RowTable > .row-table--cursor { background: $accent 40%; }
    RowTable:focus > .row-table--cursor { background: $accent 70%; }
    RowTable > .row-table--selected { text-style: bold; color: $text; }
    RowTable > .row-table--healthy { color: $success; }
    RowTable > .row-table--degraded { color: $warning; }
    RowTable > .row-table--failing { color: $error; }
    RowTable > .row-table--deploying { color: $accent; }
    RowTable > .row-table--pending { color: $secondary; }
    RowTable > .row-table--stopped { color: $text-muted; }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "open", "Open", show=False),
    ]

    class _TableMessage(Message):
        """A message about this table; ``control`` lets handlers use ``@on(..., "#id")``."""

        def __init__(self, table: RowTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> RowTable:
            return self.table

    class Highlighted(_TableMessage):
        """The cursor moved to another row."""

        def __init__(self, table: RowTable, key: str | None) -> None:
            super().__init__(table)
            self.key = key

    class Activated(_TableMessage):
        """Enter (or a double click) on a row."""

        def __init__(self, table: RowTable, key: str) -> None:
            super().__init__(table)
            self.key = key

    class HeaderClicked(_TableMessage):
        """A click on a column header (sort by it)."""

        def __init__(self, table: RowTable, column: str) -> None:
            super().__init__(table)
            self.column = column

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        multi_select: bool = False,
        empty: str = "nothing to show",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self.multi_select = multi_select
        self.empty = empty
        self.rows: list[TableRow] = []
        self.cursor = 0
        self.selected: set[str] = set()
        self.sort_column: int | None = None
        self.sort_reverse = False
        self._index: dict[str, int] = {}
        self._last_highlight: str | None = None
        self._styles: dict[str, Style] = {}

    # ------------------------------------------------------------------ data

    def set_rows(self, rows: list[TableRow]) -> None:
        """Replace the rows; the cursor stays on the same key when it is still there."""
        current = self.cursor_key
        self.rows = rows
        self._index = {row.key: i for i, row in enumerate(rows)}
        if current is not None and current in self._index:
            self.cursor = self._index[current]
        else:
            self.cursor = min(self.cursor, max(0, len(rows) - 1))
        if self.selected:
            self.selected &= self._index.keys()
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        self._keep_visible()
        self.refresh()
        self._announce()

    def set_sort(self, column: int | None, reverse: bool) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        self.refresh()

    @property
    def cursor_key(self) -> str | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor].key
        return None

    @property
    def cursor_row(self) -> TableRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def targets(self) -> list[str]:
        """The selected rows' keys (in table order), else the row under the cursor."""
        if self.selected:
            return [row.key for row in self.rows if row.key in self.selected]
        key = self.cursor_key
        return [key] if key is not None else []

    def move_to(self, key: str) -> bool:
        index = self._index.get(key)
        if index is None:
            return False
        self.cursor = index
        self._keep_visible()
        self.refresh()
        self._announce()
        return True

    def toggle_selection(self) -> None:
        key = self.cursor_key
        if key is None or not self.multi_select:
            return
        self.selected.symmetric_difference_update({key})
        self.refresh()

    def clear_selection(self) -> None:
        if self.selected:
            self.selected.clear()
            self.refresh()

    # ------------------------------------------------------------------ actions

    def action_cursor(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))
            self._keep_visible()
            self.refresh()
            self._announce()

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        if self.rows:
            self.action_cursor(len(self.rows) if where < 0 else -len(self.rows))

    def action_open(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Activated(self, key))

    def _announce(self) -> None:
        key = self.cursor_key
        if key != self._last_highlight:
            self._last_highlight = key
            self.post_message(self.Highlighted(self, key))

    def _keep_visible(self) -> None:
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        self._keep_visible()

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x)
            if column is not None:
                self.post_message(self.HeaderClicked(self, column.key))
            return
        index = int(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self.rows):
            self.cursor = index
            self.refresh()
            self._announce()
            if event.chain >= 2:
                self.action_open()

    def _column_at(self, x: int) -> Column | None:
        position = self.mark_width
        widths = column_widths(self.columns, self.size.width - self.mark_width)
        for column, width in zip(self.columns, widths, strict=True):
            if position <= x < position + width + 1:
                return column
            position += width + 1
        return None

    # ------------------------------------------------------------------ drawing

    def notify_style_update(self) -> None:
        self._styles.clear()  # the theme or the CSS changed: look the styles up again
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        """A component style (computing one walks the CSS: remember them per theme)."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"row-table--{name}")
        return style

    @property
    def mark_width(self) -> int:
        """Columns before the first cell: the selection mark when multi-select is on."""
        return 2 if self.multi_select else 0

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        widths = column_widths(self.columns, width - self.mark_width)
        if y == 0:
            return self._header(widths, width)
        index = int(self.scroll_y) + y - 1
        if index >= len(self.rows):
            if not self.rows and y == 1:
                muted = self._style("stopped")
                return Strip([Segment(fit(self.empty, width), muted)], width)
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        style = self.rich_style
        if row.style in STYLES:
            style = style + self._style(row.style)
        if row.key in self.selected:
            style = style + self._style("selected")
        if index == self.cursor:
            style = style + self._style("cursor")
        text = self._line(row.cells, widths)
        if self.multi_select:
            text = ("● " if row.key in self.selected else "  ") + text
        return Strip([Segment(fit(text, width), style)], width)

    def _header(self, widths: list[int], width: int) -> Strip:
        labels = []
        for number, (column, size) in enumerate(zip(self.columns, widths, strict=True)):
            label = column.label
            if number == self.sort_column:
                arrow = "▼" if self.sort_reverse else "▲"
                label = (label if len(label) < size else label[: max(0, size - 1)]) + arrow
            labels.append(label)
        style = self.rich_style + self._style("header")
        text = " " * self.mark_width + self._line(labels, widths, header=True)
        return Strip([Segment(fit(text, width), style)], width)

    def _line(self, cells: Sequence[str], widths: list[int], header: bool = False) -> str:
        parts = []
        for column, cell, size in zip(self.columns, cells, widths, strict=False):
            align = "left" if header else column.align
            parts.append(fit(cell, size, align))
        return " ".join(parts)
