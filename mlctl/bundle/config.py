"""Find and read a bundle's configuration, reporting every problem at once."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mlctl.bundle.schema import CONFIG_FILENAMES, BundleConfig
from mlctl.errors import InvalidInput, NotFound

M = TypeVar("M", bound=BaseModel)


class BundleInvalid(InvalidInput):
    """A bundle with one or more problems; ``problems`` holds ``file: field: what`` lines."""

    def __init__(self, problems: list[str], bundle: Path | None = None) -> None:
        count = len(problems)
        summary = problems[0] if count == 1 else f"{count} problems, first: {problems[0]}"
        where = shlex.quote(str(bundle)) if bundle is not None else "BUNDLE_DIR"
        super().__init__(summary, hint=f"see them all with: mlctl model validate {where}")
        self.problems = problems


def find_config_file(bundle_dir: Path) -> Path:
    """The bundle's config file: ``mlctl.yaml`` (preferred) or seed 003's ``config.json``."""
    if not bundle_dir.is_dir():
        raise NotFound(f"{bundle_dir}: no such bundle directory")
    for name in CONFIG_FILENAMES:
        candidate = bundle_dir / name
        if candidate.is_file():
            return candidate
    raise NotFound(
        f"{bundle_dir}: no {' or '.join(CONFIG_FILENAMES)} found",
        hint="create one with: mlctl model init NAME",
    )


def load_raw(config_file: Path) -> Any:
    """Parse YAML or JSON; a syntax error becomes one ``file: line: what`` problem."""
    text = config_file.read_text(encoding="utf-8")
    try:
        if config_file.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise BundleInvalid([f"{config_file.name}: line {exc.lineno}: {exc.msg}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "syntax"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BundleInvalid([f"{config_file.name}: {where}: {problem}"]) from exc


def schema_errors(raw: Any) -> tuple[BundleConfig | None, list[tuple[str, str]]]:
    """Validate parsed data against the schema; every error as a ``(field, message)`` pair.

    Fields read like the YAML a user wrote (``signature.inputs[0].shape``) and messages
    quote the offending value, so each problem can be fixed without opening the schema.
    """
    return validate_model(BundleConfig, raw)


def validate_model(model: type[M], raw: Any) -> tuple[M | None, list[tuple[str, str]]]:
    """Any strict schema (bundles, environment specs): the model, or every error."""
    if not isinstance(raw, dict):
        return None, [("(top level)", "must be a mapping of fields")]
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        return None, [_describe(error) for error in exc.errors()]


def _describe(error: Any) -> tuple[str, str]:
    field = ""
    for part in error["loc"]:
        field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling against the README)"
    elif _is_scalar(error.get("input")) and repr(error["input"]) not in message:
        message += f" (got {error['input']!r})"
    return field or "(top level)", message


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 80


def schema_problems(filename: str, raw: Any) -> tuple[BundleConfig | None, list[str]]:
    """Validate parsed data against the schema; every error as ``file: field: message``."""
    config, errors = schema_errors(raw)
    return config, [f"{filename}: {field}: {message}" for field, message in errors]


def read_config(bundle_dir: Path) -> BundleConfig:
    """The validated config of the bundle at ``bundle_dir``; raises BundleInvalid listing all."""
    config_file = find_config_file(bundle_dir)
    config, problems = schema_problems(config_file.name, load_raw(config_file))
    if problems or config is None:
        raise BundleInvalid(problems, bundle_dir)
    return config
