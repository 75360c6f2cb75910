"""Reading spec and app config files, and the error that lists every problem in them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mlctl.bundle.problems import Problem
from mlctl.errors import InvalidInput, NotFound


class SpecInvalid(InvalidInput):
    """An environment spec with problems; ``problems`` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        first = str(problems[0])
        count = len(problems)
        super().__init__(
            first if count == 1 else f"{count} problems, first: {first}",
            hint="each problem is listed above" if count > 1 else None,
        )
        self.problems = problems


def read_file(path: Path) -> tuple[Any, list[Problem]]:
    """Parse YAML or JSON; a syntax error is one problem naming the line."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such environment spec") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot be read: {exc}") from exc
    try:
        return (json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)), []
    except json.JSONDecodeError as exc:
        return None, [Problem(name, f"line {exc.lineno}", exc.msg)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "syntax"
        return None, [Problem(name, where, str(getattr(exc, "problem", exc)))]
