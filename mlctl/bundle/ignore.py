"""Which files a bundle leaves out: built-in excludes plus ``.mlctlignore``.

``.mlctlignore`` holds one fnmatch pattern per line (``#`` starts a comment). A
pattern without ``/`` matches a file or directory name at any depth; a pattern with
``/`` matches the path from the bundle root; a trailing ``/`` matches directories
only. An excluded directory is skipped with everything in it. Negation (``!``) is not
supported: it is reported, not silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from mlctl.bundle.problems import Problem

IGNORE_FILE = ".mlctlignore"

#: Left out of every bundle: caches and editor/VCS clutter that would only make
#: archives differ between machines.
BUILTIN_EXCLUDES = ("__pycache__/", ".git/", "*.pyc", ".DS_Store")


@dataclass(frozen=True)
class Pattern:
    """One exclude pattern and where it came from (``line`` 0 for built-ins)."""

    glob: str
    dir_only: bool
    anchored: bool
    line: int = 0

    @classmethod
    def parse(cls, text: str, line: int = 0) -> Pattern:
        dir_only = text.endswith("/")
        glob = text.rstrip("/")
        anchored = "/" in glob
        return cls(glob.lstrip("/"), dir_only, anchored, line)

    def matches(self, path: PurePosixPath, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        subject = path.as_posix() if self.anchored else path.name
        return fnmatchcase(subject, self.glob)


@dataclass(frozen=True)
class IgnoreRules:
    """The patterns in force for one bundle."""

    patterns: tuple[Pattern, ...]

    def match(self, path: PurePosixPath, is_dir: bool) -> Pattern | None:
        """The first pattern excluding ``path`` (relative to the bundle root), if any."""
        return next((p for p in self.patterns if p.matches(path, is_dir)), None)

    def excludes(self, path: PurePosixPath, is_dir: bool) -> bool:
        return self.match(path, is_dir) is not None


def builtin_rules() -> IgnoreRules:
    return IgnoreRules(tuple(Pattern.parse(text) for text in BUILTIN_EXCLUDES))


def read_ignore(bundle_dir: Path) -> tuple[IgnoreRules, list[Problem]]:
    """Built-in excludes plus the bundle's ``.mlctlignore``; bad lines become problems."""
    patterns = list(builtin_rules().patterns)
    problems: list[Problem] = []
    ignore_file = bundle_dir / IGNORE_FILE
    if not ignore_file.is_file():
        return IgnoreRules(tuple(patterns)), problems
    try:
        lines = ignore_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(IGNORE_FILE, "(file)", f"cannot be read: {exc}"))
        return IgnoreRules(tuple(patterns)), problems
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("!"):
            problems.append(
                Problem(IGNORE_FILE, f"line {number}", f"{text!r}: negation (!) is not supported")
            )
            continue
        if text.strip("/") == "":
            problems.append(
                Problem(IGNORE_FILE, f"line {number}", f"{text!r} would exclude the whole bundle")
            )
            continue
        patterns.append(Pattern.parse(text, number))
    return IgnoreRules(tuple(patterns)), problems
