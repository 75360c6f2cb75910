from __future__ import annotations

import io
import json
from pathlib import Path

import click
import pytest

from mlctl import paths, redact
from mlctl.cli.lazy import LazyCommand, LazyGroup
from mlctl.errors import ExitStatus, InvalidInput, MlctlError, NotFound
from mlctl.output import emit_fields, emit_json, emit_table


def test_scrub_masks_registered_secrets_longest_first() -> None:
    redact.register("abcdef1234", "abcdef")
    assert redact.scrub("t=abcdef1234 u=abcdef") == "t=[redacted] u=[redacted]"


def test_scrub_ignores_very_short_values() -> None:
    redact.register("ab")
    assert redact.scrub("about") == "about"


def test_emit_json_scrubs_secrets() -> None:
    redact.register("s3cr3t-value")
    out = io.StringIO()
    emit_json({"token": "s3cr3t-value"}, stream=out)
    assert json.loads(out.getvalue()) == {"token": "[redacted]"}


def test_emit_table_renders_headers_and_cells() -> None:
    out = io.StringIO()
    emit_table(
        [{"name": "iris", "ok": True, "tags": ["a", "b"]}],
        {"name": "NAME", "ok": "OK", "tags": "TAGS"},
        stream=out,
    )
    text = out.getvalue()
    assert "NAME" in text and "iris" in text and "yes" in text and "a, b" in text


def test_emit_table_says_when_empty() -> None:
    out = io.StringIO()
    emit_table([], ["name"], empty="no models", stream=out)
    assert out.getvalue().strip() == "no models"


def test_emit_fields_aligns_keys() -> None:
    out = io.StringIO()
    emit_fields({"a": 1, "long": None}, stream=out)
    assert out.getvalue() == "a     1\nlong  -\n"


def test_error_one_line_and_dict() -> None:
    error = InvalidInput("bad value", hint="use a number")
    assert error.one_line() == "bad value (use a number)"
    assert error.to_dict()["status"] == ExitStatus.INVALID
    assert MlctlError("x").status == ExitStatus.INTERNAL


def test_data_dir_finds_checkout_folders() -> None:
    assert paths.data_dir("jobspecs").name == "jobspecs"


def test_data_dir_rejects_unknown_names() -> None:
    with pytest.raises(ValueError):
        paths.data_dir("secrets")


def test_data_dir_missing_is_not_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths, "_PACKAGE_DIR", tmp_path / "mlctl")
    with pytest.raises(NotFound, match="playbooks"):
        paths.data_dir("playbooks")


def test_lazy_group_skips_missing_modules_and_loads_on_demand() -> None:
    group = LazyGroup(
        name="g",
        lazy={
            "ctx": LazyCommand("mlctl.cli.context:context", "contexts"),
            "ghost": LazyCommand("mlctl.cli.no_such_module:cmd", "never"),
        },
    )
    ctx = click.Context(group)
    assert group.list_commands(ctx) == ["ctx"]
    assert isinstance(group.get_command(ctx, "ctx"), click.Group)
    assert group.get_command(ctx, "ghost") is None


def test_piped_tables_never_wrap_rows() -> None:
    out = io.StringIO()  # not a terminal
    long_value = "x" * 300
    emit_table([{"name": "iris", "endpoint": long_value}], ["name", "endpoint"], stream=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert long_value in lines[1]
