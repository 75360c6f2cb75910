"""How commands print results: tables for people, JSON for scripts.

Commands build plain data (lists of dicts) and hand it to :func:`emit`; they never
format JSON or tables themselves, so ``--output json`` works the same everywhere.
Rich is imported only when a table is actually printed, to keep start-up fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from mlctl.redact import scrub


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def emit_json(data: Any, stream: TextIO | None = None) -> None:
    """Print ``data`` as indented JSON (secrets scrubbed)."""
    text = json.dumps(data, indent=2, sort_keys=False, default=_json_default)
    (stream or sys.stdout).write(scrub(text) + "\n")


def emit_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | Mapping[str, str],
    *,
    title: str | None = None,
    empty: str = "nothing to show",
    stream: TextIO | None = None,
) -> None:
    """Print rows as a table; ``columns`` maps row keys to headers (or lists keys)."""
    from rich.console import Console
    from rich.table import Table

    out = stream or sys.stdout
    # Wrap to the terminal's width for people; never wrap when piped, so each row stays
    # one line for grep, awk and friends.
    width = None if _is_terminal(out) else 100_000
    console = Console(file=out, soft_wrap=True, width=width)
    if not rows:
        console.print(empty, markup=False, highlight=False)
        return
    headers = columns if isinstance(columns, Mapping) else {c: c.upper() for c in columns}
    table = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for header in headers.values():
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(scrub(_cell(row.get(key))) for key in headers))
    console.print(table)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def emit_fields(data: Mapping[str, Any], stream: TextIO | None = None) -> None:
    """Print one record as aligned ``key: value`` lines."""
    out = stream or sys.stdout
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        out.write(scrub(f"{key.ljust(width)}  {_cell(value)}") + "\n")


def emit(
    data: Any,
    output: str,
    *,
    columns: Sequence[str] | Mapping[str, str] | None = None,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """Print ``data`` in the chosen format: a table of rows, a record, or JSON."""
    if output == "json":
        emit_json(data)
    elif isinstance(data, Mapping):
        emit_fields(data)
    else:
        emit_table(list(data), columns or _keys(data), title=title, empty=empty)


def _keys(rows: Any) -> list[str]:
    first = next(iter(rows), None)
    return list(first.keys()) if isinstance(first, Mapping) else []


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value) or "-"
    return str(value)


def note(message: str) -> None:
    """A progress or status line for people: always on stderr, never in JSON output."""
    sys.stderr.write(scrub(message) + "\n")
