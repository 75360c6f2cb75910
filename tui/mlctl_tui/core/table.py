"""Rows of the TUI's tables as plain values, with sorting and filtering.

Every screen turns its part of the Store into :class:`TableRow` values once per change;
the table widget only draws the rows that are visible. Sorting and filtering work on
these tuples, so a keystroke in the filter costs one pass over plain strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Align = Literal["left", "right"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key (for sorting), header label and width (0: take the rest)."""

    key: str
    label: str
    width: int = 0
    align: Align = "left"


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row: display cells, the values it sorts by, and the text a filter searches."""

    key: str
    cells: tuple[str, ...]
    sort_values: tuple[Any, ...] = ()
    style: str = ""  #: a semantic class (``healthy``, ``failing`` …) the widget colours
    haystack: str = ""  #: what the ``/`` filter matches (defaults to the cells)

    def search_text(self) -> str:
        return self.haystack or " ".join(self.cells)


def _sort_key(value: Any) -> tuple[int, Any]:
    """Missing values (None, "") sort last whatever the direction; numbers numerically."""
    if value is None or value == "":
        return (1, 0)
    if isinstance(value, str):
        return (0, value.lower())
    return (0, value)


def _value(row: TableRow, column: int) -> Any:
    values = row.sort_values or row.cells
    return values[column] if column < len(values) else None


def sort_rows(rows: Sequence[TableRow], column: int, reverse: bool = False) -> list[TableRow]:
    """``rows`` ordered by ``column``'s sort value (its cell when it has none), then by key;
    rows without a value come last in either direction."""
    present: list[tuple[Any, str, TableRow]] = []
    missing: list[TableRow] = []
    for row in rows:
        rank, value = _sort_key(_value(row, column))
        if rank:
            missing.append(row)
        else:
            present.append((value, row.key, row))
    present.sort(key=lambda item: (item[0], item[1]), reverse=reverse)
    missing.sort(key=lambda row: row.key)
    return [item[2] for item in present] + missing


@dataclass(frozen=True)
class RowFilter:
    """What the user typed after ``/``: a regex, ``!`` in front to keep non-matches.

    Matching ignores case. Text that is not a valid regex is matched literally and
    ``error`` says why, so typing ``iris(`` never empties the table by surprise.
    """

    text: str = ""
    invert: bool = False
    pattern: re.Pattern[str] | None = None
    error: str = ""

    @classmethod
    def parse(cls, text: str) -> RowFilter:
        raw = text.strip()
        invert = raw.startswith("!")
        body = raw[1:] if invert else raw
        if not body:
            return cls(text=text, invert=invert)
        try:
            return cls(text=text, invert=invert, pattern=re.compile(body, re.IGNORECASE))
        except re.error as error:
            literal = re.compile(re.escape(body), re.IGNORECASE)
            return cls(
                text, invert, literal, f"not a regular expression ({error}); matched as text"
            )

    @property
    def active(self) -> bool:
        return self.pattern is not None

    def keeps(self, haystack: str) -> bool:
        if self.pattern is None:
            return True
        found = self.pattern.search(haystack) is not None
        return found != self.invert

    def apply(self, rows: Iterable[TableRow]) -> list[TableRow]:
        if self.pattern is None:
            return list(rows)
        return [row for row in rows if self.keeps(row.search_text())]


@dataclass
class TableView:
    """Rows after filter and sort, remembered so unchanged input costs nothing."""

    columns: tuple[Column, ...]
    sort_column: int = 0
    reverse: bool = False
    row_filter: RowFilter = field(default_factory=RowFilter)

    def arrange(self, rows: Sequence[TableRow]) -> list[TableRow]:
        return sort_rows(self.row_filter.apply(rows), self.sort_column, self.reverse)

    def cycle_sort(self) -> None:
        self.sort_column = (self.sort_column + 1) % len(self.columns)

    def sort_by(self, key: str) -> None:
        """Sort by the column ``key``; the same column again flips the direction."""
        index = next((i for i, c in enumerate(self.columns) if c.key == key), None)
        if index is None:
            raise KeyError(key)
        if index == self.sort_column:
            self.reverse = not self.reverse
        else:
            self.sort_column, self.reverse = index, False
