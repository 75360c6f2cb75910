"""Task logs on disk, Nomad's way: ``alloc/logs/<task>.<stdout|stderr>.<index>``.

The task writes straight into its current file (opened with ``O_APPEND``), so logging
never depends on the runtime being alive — a re-adopted task keeps logging while the
runtime restarts.  Rotation therefore copies and truncates: when the current file
(index N) passes ``max_file_size``, its bytes are copied aside, the file is truncated
and renamed N+1 (the task's descriptor follows the rename), and the copy becomes N.
Bytes written between the copy and the truncation (microseconds) are lost; Nomad's
logmon, which owns the pipe, has no such window.  At most ``max_files`` files are kept.

:class:`LogView` reads the retained files as one stream (``origin``/``offset`` count
across them), which is what ``GET /v1/client/fs/logs`` serves, and follows it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

STREAMS = ("stdout", "stderr")
MIB = 1024 * 1024
MISSING_RECHECK = 0.05  # seconds: a file mid-rotation reappears well within this


def _pattern(task: str, stream: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(task)}\.{stream}\.(\d+)$")


def indexes(log_dir: Path, task: str, stream: str) -> list[int]:
    """The retained file indexes, oldest first."""
    pattern = _pattern(task, stream)
    found = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(log_dir):
            match = pattern.match(entry.name)
            if match:
                found.append(int(match.group(1)))
    return sorted(found)


def path_of(log_dir: Path, task: str, stream: str, index: int) -> Path:
    return log_dir / f"{task}.{stream}.{index}"


def open_current(log_dir: Path, task: str, stream: str) -> BinaryIO:
    """The file a (re)started task appends to: the newest one, or index 0."""
    log_dir.mkdir(parents=True, exist_ok=True)
    found = indexes(log_dir, task, stream)
    index = found[-1] if found else 0
    return path_of(log_dir, task, stream, index).open("ab")


def rotate(log_dir: Path, task: str, stream: str, max_file_size_mb: int, max_files: int) -> bool:
    """Rotate the current file when it is too big and drop the oldest ones; True if rotated."""
    found = indexes(log_dir, task, stream)
    if not found:
        return False
    current = found[-1]
    live = path_of(log_dir, task, stream, current)
    try:
        if live.stat().st_size < max(1, max_file_size_mb) * MIB:
            return False
        copy = log_dir / f".{task}.{stream}.{current}.rotating"
        shutil.copyfile(live, copy)
        with live.open("r+b") as handle:
            handle.truncate(0)
        live.rename(path_of(log_dir, task, stream, current + 1))
        copy.rename(path_of(log_dir, task, stream, current))
    except FileNotFoundError:
        return False
    for old in indexes(log_dir, task, stream)[: -max(1, max_files)]:
        path_of(log_dir, task, stream, old).unlink(missing_ok=True)
    return True


@dataclass
class Position:
    """Where a reader is: a file index and a byte offset inside it."""

    index: int
    offset: int


class LogView:
    """The retained files of one task stream, read as one sequence of bytes."""

    def __init__(self, log_dir: Path, task: str, stream: str) -> None:
        self.log_dir = log_dir
        self.task = task
        self.stream = stream

    def file_name(self, index: int) -> str:
        return f"alloc/logs/{self.task}.{self.stream}.{index}"

    def _sizes(self) -> list[tuple[int, int]]:
        out = []
        for index in indexes(self.log_dir, self.task, self.stream):
            with contextlib.suppress(FileNotFoundError):
                out.append(
                    (index, path_of(self.log_dir, self.task, self.stream, index).stat().st_size)
                )
        return out

    def exists(self) -> bool:
        return bool(indexes(self.log_dir, self.task, self.stream))

    def seek(self, offset: int, origin: str) -> Position:
        """The position ``offset`` bytes from the start or the end of the whole stream."""
        sizes = self._sizes()
        if not sizes:
            return Position(0, 0)
        total = sum(size for _, size in sizes)
        at = min(max(0, offset if origin == "start" else total - offset), total)
        for index, size in sizes:
            if at <= size:
                return Position(index, at)
            at -= size
        last, size = sizes[-1]
        return Position(last, size)

    def read(self, pos: Position, limit: int) -> tuple[bytes, Position, int]:
        """Up to ``limit`` bytes from ``pos``: (data, next position, index read from).

        Moves on to the next file once a file is exhausted and a newer one exists.  A
        missing file is either mid-rotation (it reappears within microseconds) or was
        dropped by ``max_files`` (the reader was too slow): after a short second look,
        the reader skips to the oldest newer file.
        """
        for _ in range(64):  # each turn moves to a newer file; bounded all the same
            data = self._read_file(pos, limit)
            if data is None:
                time.sleep(MISSING_RECHECK)
                data = self._read_file(pos, limit)
            if data:
                return data, Position(pos.index, pos.offset + len(data)), pos.index
            newer = [i for i in indexes(self.log_dir, self.task, self.stream) if i > pos.index]
            if not newer:
                return b"", pos, pos.index
            pos = Position(newer[0], 0)
        return b"", pos, pos.index

    def _read_file(self, pos: Position, limit: int) -> bytes | None:
        path = path_of(self.log_dir, self.task, self.stream, pos.index)
        try:
            with path.open("rb") as handle:
                handle.seek(pos.offset)
                return handle.read(limit)
        except FileNotFoundError:
            return None
