"""Log lines from one or many allocations, merged in arrival order (pure).

Chunks arrive as bytes cut anywhere; each (source, stream) keeps its unfinished last
line until the rest arrives, so merged lines never interleave mid-line. The buffer is
bounded: the oldest lines go first and :attr:`LogBuffer.dropped` counts them.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from rich.cells import cell_len, get_character_cell_size

DEFAULT_LIMIT = 20_000
#: A line longer than this is cut (a runaway line must not eat the memory).
MAX_LINE = 8_192
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class LogLine:
    source: str  #: the allocation's short ID ("" when following one allocation)
    stream: str  #: ``stdout`` or ``stderr``
    text: str

    def display(self, prefixed: bool, tagged: bool = False) -> str:
        head = f"[{self.source}] " if prefixed and self.source else ""
        tag = "! " if tagged and self.stream == "stderr" else ""
        return head + tag + self.text


def clean(text: str) -> str:
    """Terminal control characters (escape sequences, bells) shown as ``?``: a log must
    not be able to repaint the operator's terminal."""
    text = text.expandtabs(4)
    return _CONTROL.sub("?", text)[:MAX_LINE]


class LogBuffer:
    """Bounded, merged lines with per-source partial-line assembly."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.lines: deque[LogLine] = deque(maxlen=limit)
        self.dropped = 0
        self._partial: dict[tuple[str, str], str] = {}
        self._decoders: dict[tuple[str, str], codecs.IncrementalDecoder] = {}

    def __len__(self) -> int:
        return len(self.lines)

    def feed(self, source: str, stream: str, chunk: bytes) -> list[LogLine]:
        """Add a chunk; returns the complete lines it finished."""
        key = (source, stream)
        decoder = self._decoders.get(key)
        if decoder is None:
            decoder = self._decoders[key] = codecs.getincrementaldecoder("utf-8")("replace")
        text = self._partial.pop(key, "") + decoder.decode(chunk)
        *complete, rest = text.split("\n")
        if rest:
            if len(rest) > MAX_LINE:  # never hold an endless unfinished line
                complete.append(rest)
            else:
                self._partial[key] = rest
        added = [LogLine(source, stream, clean(line.rstrip("\r"))) for line in complete]
        self.extend(added)
        return added

    def extend(self, lines: list[LogLine]) -> None:
        room = self.lines.maxlen or 0
        overflow = len(self.lines) + len(lines) - room
        if overflow > 0:
            self.dropped += overflow
        self.lines.extend(lines)

    def flush(self) -> list[LogLine]:
        """The unfinished last lines, as lines (when a stream ends)."""
        added = [LogLine(s, st, clean(text)) for (s, st), text in self._partial.items() if text]
        self._partial.clear()
        self.extend(added)
        return added

    def clear(self) -> None:
        self.lines.clear()
        self._partial.clear()
        self.dropped = 0


@dataclass(frozen=True)
class LogSearch:
    """A search over log lines: a regex (case-insensitive), literal when not valid."""

    text: str
    pattern: re.Pattern[str] | None
    error: str = ""

    @classmethod
    def parse(cls, text: str) -> LogSearch:
        if not text:
            return cls(text, None)
        try:
            return cls(text, re.compile(text, re.IGNORECASE))
        except re.error as error:
            return cls(
                text, re.compile(re.escape(text), re.IGNORECASE), f"matched as text ({error})"
            )

    def spans(self, text: str) -> list[tuple[int, int]]:
        if self.pattern is None:
            return []
        return [(m.start(), m.end()) for m in self.pattern.finditer(text) if m.end() > m.start()]

    def matches(self, lines: list[str]) -> list[int]:
        if self.pattern is None:
            return []
        return [i for i, line in enumerate(lines) if self.pattern.search(line)]


def wrap(text: str, width: int) -> Iterator[tuple[int, str]]:
    """``text`` cut into pieces at most ``width`` terminal cells wide, with each piece's
    offset (in characters, so search spans still line up).

    Cells, not characters: a CJK character or an emoji takes two cells, a combining
    accent none, so cutting by characters would overflow the screen. A character wider
    than ``width`` still gets a piece of its own (nothing is ever dropped).
    """
    if width <= 0 or cell_len(text) <= width:
        yield 0, text
        return
    if text.isascii():  # one cell per character (controls were replaced by clean())
        for start in range(0, len(text), width):
            yield start, text[start : start + width]
        return
    start = used = 0
    for index, char in enumerate(text):
        size = get_character_cell_size(char)
        if used + size > width and index > start:
            yield start, text[start:index]
            start, used = index, 0
        used += size
    if start < len(text):
        yield start, text[start:]
