"""``mlctl model``: scaffold, validate and package model bundles (the bundle contract)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from mlctl.bundle.problems import Problem, Severity
from mlctl.bundle.validate import ValidationReport
from mlctl.cli.main import state
from mlctl.errors import ExitStatus, InvalidInput
from mlctl.output import emit, emit_json, note

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


@click.group()
def model() -> None:
    """Scaffold, validate and package model bundles.

    A bundle is a directory holding mlctl.yaml, the model file (skops, onnx, or
    joblib/pickle pinned by sha256) and an optional contract.py; the README's
    "The bundle contract" describes every field.

    \b
    Examples:
      mlctl model init churn && mlctl model validate churn
      mlctl model validate examples/iris -o json
      mlctl model package examples/iris --out dist/
    """


@model.command("init")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to create the bundle [default: ./NAME].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["skops", "onnx"]),
    default="skops",
    show_default=True,
    help="Model format of the example the bundle starts from.",
)
@click.pass_context
def init(ctx: click.Context, name: str, directory: Path | None, fmt: str) -> None:
    """Create a working bundle NAME from a shipped example, ready to validate and serve.

    NAME must be a DNS label (lowercase letters, digits, '-'). The directory must not
    exist or must be empty. Replace the model file and signature with your own after.

    \b
    Examples:
      mlctl model init churn
      mlctl model init churn --format onnx --dir models/churn
    """
    from mlctl.bundle.scaffold import scaffold_bundle

    created = scaffold_bundle(name, directory or Path(name), fmt)
    output = state(ctx).settings().output
    if output == "json":
        emit_json({"path": str(created.path), "name": name, "format": fmt, "files": created.files})
        return
    shown = directory or Path(name)
    note(f"created bundle {name} in {shown} ({', '.join(created.files)})")
    note(f"next: mlctl model validate {shown} && mlctl serve {shown}")


@model.command("validate")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, bundle: Path) -> int:
    """Check BUNDLE (a directory or a .tar.gz) and list every problem at once.

    Each problem is one line `file: field: what is wrong` (warnings say `warning:`).
    Nothing in the bundle is executed: contract.py is parsed, not imported. Exits 4
    when there is any error; warnings alone still exit 0.

    \b
    Examples:
      mlctl model validate examples/iris
      mlctl model validate dist/iris-1.0.0.tar.gz
      mlctl -o json model validate my-model | jq '.[].text'
    """
    report = _validate_any(bundle)
    if state(ctx).settings().output == "json":
        emit_json([problem.to_dict() for problem in report.problems])
        return int(ExitStatus.INVALID) if report.errors else int(ExitStatus.OK)
    for problem in report.problems:
        sys.stdout.write(_problem_line(problem) + "\n")
    if report.errors:
        errors, warnings = len(report.errors), len(report.warnings)
        summary = f"{errors} error{'s' if errors != 1 else ''}"
        if warnings:
            summary += f" and {warnings} warning{'s' if warnings != 1 else ''}"
        raise InvalidInput(f"{bundle}: {summary} (listed above)")
    note(_summary(bundle, report))
    return int(ExitStatus.OK)


@model.command("package")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory to write NAME-VERSION.tar.gz into [default: current directory].",
)
@click.pass_context
def package(ctx: click.Context, bundle: Path, out_dir: Path | None) -> None:
    """Validate BUNDLE and write a reproducible NAME-VERSION.tar.gz.

    The same files always give the same bytes (sorted entries, fixed times, owners
    and modes), so the printed sha256 identifies the content. Invalid bundles are
    refused with the first problem (see them all with `mlctl model validate`).

    \b
    Examples:
      mlctl model package examples/iris --out dist/
      mlctl -o json model package my-model | jq -r .sha256
    """
    from mlctl.bundle.package import package_bundle

    packaged = package_bundle(bundle, out_dir)
    emit(
        {
            "path": str(packaged.path),
            "sha256": packaged.sha256,
            "size": packaged.size,
            "name": packaged.config.name,
            "version": packaged.config.version,
        },
        state(ctx).settings().output,
    )


def _validate_any(bundle: Path) -> ValidationReport:
    """Validate a directory, or a .tar.gz after unpacking it safely into a temp dir."""
    from mlctl.bundle.validate import validate_bundle

    if bundle.is_dir() or not bundle.name.endswith(ARCHIVE_SUFFIXES):
        return validate_bundle(bundle)
    from mlctl.bundle.unpack import safe_unpack

    with tempfile.TemporaryDirectory(prefix="mlctl-validate-") as temp:
        return validate_bundle(safe_unpack(bundle, Path(temp) / "bundle"))


def _problem_line(problem: Problem) -> str:
    if problem.severity is Severity.WARNING:
        return f"{problem.file}: {problem.field}: warning: {problem.message}"
    return str(problem)


def _summary(bundle: Path, report: ValidationReport) -> str:
    config = report.config
    assert config is not None  # no errors means the config parsed
    hooks = ", ".join(report.hooks) or "none"
    text = (
        f"{bundle}: valid: {config.name} {config.version}, {config.model.format.value} model "
        f"{config.model.file}, contract hooks: {hooks}, {len(report.tree.entries)} entries, "
        f"{report.tree.total_bytes} bytes"
    )
    if report.warnings:
        text += f", {len(report.warnings)} warning{'s' if len(report.warnings) != 1 else ''}"
    return text
