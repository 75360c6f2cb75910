"""Walk a bundle directory: what would be packaged, and what packaging would refuse.

Both ``validate_bundle`` and ``package_bundle`` use this walk, so validation reports
exactly the files packaging would trip over. Symlinks are never stored as links: one
pointing to a file inside the bundle is stored as that file's content; one leaving
the bundle, pointing to a directory, or dangling is a problem.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from mlctl.bundle.ignore import IgnoreRules, Pattern
from mlctl.bundle.limits import MAX_MEMBERS, MAX_TOTAL_BYTES
from mlctl.bundle.names import name_problem, printable
from mlctl.bundle.problems import Problem

BUNDLE = "(bundle)"


class EntryKind(StrEnum):
    FILE = "file"
    DIR = "dir"


@dataclass(frozen=True)
class Entry:
    """One file or directory to package."""

    path: PurePosixPath  #: inside the bundle
    kind: EntryKind
    source: Path  #: what to read: the file itself or a symlink's target
    size: int
    executable: bool


@dataclass(frozen=True)
class BundleTree:
    root: Path
    entries: tuple[Entry, ...]
    problems: tuple[Problem, ...]
    excluded: tuple[tuple[PurePosixPath, Pattern], ...]  #: top-most excluded paths

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    def exclusion_of(self, relpath: str) -> Pattern | None:
        """The pattern that leaves ``relpath`` (or a parent directory of it) out, if any."""
        target = PurePosixPath(relpath)
        for path, pattern in self.excluded:
            if target == path or path in target.parents:
                return pattern
        return None


def scan_tree(
    root: Path,
    rules: IgnoreRules,
    *,
    skip: frozenset[PurePosixPath] = frozenset(),
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
) -> BundleTree:
    """Every entry under ``root`` that packaging takes, sorted, plus the problems found."""
    walker = _Walker(root.resolve(), rules, skip)
    walker.walk(walker.root, PurePosixPath())
    problems = walker.problems
    if len(walker.entries) > max_members:
        problems.append(
            Problem(
                BUNDLE,
                "entries",
                f"{len(walker.entries)} files and directories exceed "
                f"the limit of {max_members}; list clutter in .mlctlignore",
            )
        )
    total = sum(entry.size for entry in walker.entries)
    if total > max_total_bytes:
        problems.append(
            Problem(
                BUNDLE,
                "size",
                f"{total} bytes of files exceed the limit of "
                f"{max_total_bytes} bytes; list large unneeded files in .mlctlignore",
            )
        )
    entries = sorted(walker.entries, key=lambda entry: entry.path.parts)
    return BundleTree(walker.root, tuple(entries), tuple(problems), tuple(walker.excluded))


class _Walker:
    def __init__(self, root: Path, rules: IgnoreRules, skip: frozenset[PurePosixPath]) -> None:
        self.root = root
        self.rules = rules
        self.skip = skip
        self.entries: list[Entry] = []
        self.problems: list[Problem] = []
        self.excluded: list[tuple[PurePosixPath, Pattern]] = []

    def walk(self, directory: Path, relative: PurePosixPath) -> None:
        try:
            children = sorted(os.scandir(directory), key=lambda child: child.name)
        except OSError as exc:
            self.problems.append(Problem(_label(relative), "(directory)", f"cannot list: {exc}"))
            return
        for child in children:
            self.visit(Path(child.path), relative / child.name)

    def visit(self, path: Path, relative: PurePosixPath) -> None:
        label = relative.as_posix()
        if relative in self.skip:
            return
        try:
            info = path.lstat()
        except OSError as exc:
            self.problems.append(Problem(label, "(file)", f"cannot be read: {exc}"))
            return
        is_dir = stat.S_ISDIR(info.st_mode)
        pattern = self.rules.match(relative, is_dir)
        if pattern is not None:
            self.excluded.append((relative, pattern))
            return
        reason = name_problem(label)
        if reason is not None:
            self.problems.append(Problem(printable(label), "name", f"{reason}; rename it"))
            return
        if stat.S_ISLNK(info.st_mode):
            self.visit_link(path, relative)
        elif is_dir:
            self.entries.append(Entry(relative, EntryKind.DIR, path, 0, False))
            self.walk(path, relative)
        elif stat.S_ISREG(info.st_mode):
            self.entries.append(_file_entry(relative, path, info))
        else:
            self.problems.append(
                Problem(
                    label,
                    "type",
                    f"is a {_kind(info.st_mode)}; bundles hold regular files and directories only",
                )
            )

    def visit_link(self, path: Path, relative: PurePosixPath) -> None:
        label = relative.as_posix()
        target = Path(os.path.realpath(path))
        if target != self.root and self.root not in target.parents:
            self.problems.append(
                Problem(
                    label,
                    "symlink",
                    f"points outside the bundle (to {target}); "
                    "copy the file into the bundle instead",
                )
            )
            return
        try:
            info = target.stat()
        except OSError:
            self.problems.append(Problem(label, "symlink", "is broken (its target is missing)"))
            return
        if not stat.S_ISREG(info.st_mode):
            self.problems.append(
                Problem(
                    label,
                    "symlink",
                    f"points to a {_kind(info.st_mode)}; only symlinks "
                    "to files are packaged (as copies)",
                )
            )
            return
        self.entries.append(_file_entry(relative, target, info))


def _file_entry(relative: PurePosixPath, source: Path, info: os.stat_result) -> Entry:
    executable = bool(info.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    return Entry(relative, EntryKind.FILE, source, info.st_size, executable)


def _kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "directory",
        stat.S_ISCHR: "character device",
        stat.S_ISBLK: "block device",
        stat.S_ISFIFO: "named pipe (fifo)",
        stat.S_ISSOCK: "socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "special file")


def _label(relative: PurePosixPath) -> str:
    return relative.as_posix() if relative.parts else "."
