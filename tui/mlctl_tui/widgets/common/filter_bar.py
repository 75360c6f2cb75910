"""The ``/`` filter: a regex over the rows, ``!`` in front to invert; Escape clears it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

from mlctl_tui.core.table import RowFilter


class FilterBar(Horizontal):
    DEFAULT_CSS = """
    FilterBar { height: 1; display: none; }
    FilterBar.-open { display: block; }
    FilterBar > Label { width: auto; padding: 0 1; }
    FilterBar > Input { border: none; height: 1; width: 1fr; padding: 0; }
    FilterBar > #filter-error { color: $warning; width: auto; }
    """

    BINDINGS = [Binding("escape", "clear", "Clear filter", show=False)]

    class Changed(Message):
        def __init__(self, bar: FilterBar, row_filter: RowFilter) -> None:
            super().__init__()
            self.bar = bar
            self.row_filter = row_filter

        @property
        def control(self) -> FilterBar:
            return self.bar

    class Done(Message):
        """Enter or Escape: hand the focus back to the table."""

    def __init__(self, placeholder: str = "regex (! inverts)", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.placeholder = placeholder
        self.row_filter = RowFilter()

    def compose(self) -> ComposeResult:
        yield Label("/")
        yield Input(placeholder=self.placeholder, id="filter-input")
        yield Label("", id="filter-error", markup=False)

    def open(self) -> None:
        self.add_class("-open")
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.row_filter = RowFilter.parse(event.value)
        self.query_one("#filter-error", Label).update(self.row_filter.error)
        self.post_message(self.Changed(self, self.row_filter))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            self.remove_class("-open")
        self.post_message(self.Done())

    def action_clear(self) -> None:
        self.query_one(Input).value = ""
        self.remove_class("-open")
        self.post_message(self.Done())

    def set_text(self, text: str) -> None:
        """Set the filter from code (tests, the command palette)."""
        self.add_class("-open")
        self.query_one(Input).value = text
