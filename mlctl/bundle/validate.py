"""Validate a bundle directory, collecting every problem instead of stopping at the first.

Each problem reads ``file: field: what is wrong``. Validation never runs the bundle's
code: the config is parsed as data, ``contract.py`` with :mod:`ast`, and the model
file is hashed or inspected by loaders that execute no Python from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mlctl.bundle.config import BundleInvalid, find_config_file, load_raw, schema_errors
from mlctl.bundle.contract_check import CONTRACT_FILE, check_contract
from mlctl.bundle.ignore import IGNORE_FILE, read_ignore
from mlctl.bundle.model_check import ModelRef, check_model
from mlctl.bundle.problems import Problem, Severity, warning
from mlctl.bundle.schema import CONFIG_FILENAMES, BundleConfig, ModelFormat
from mlctl.bundle.tree import BundleTree, scan_tree
from mlctl.errors import NotFound


@dataclass(frozen=True)
class ValidationReport:
    """What validation found; ``tree`` is exactly what packaging would write."""

    bundle_dir: Path
    config_file: str
    config: BundleConfig | None
    problems: tuple[Problem, ...]
    hooks: tuple[str, ...]
    tree: BundleTree

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors

    def require_valid(self) -> BundleConfig:
        """The config, or :class:`BundleInvalid` listing every error."""
        if self.errors or self.config is None:
            raise BundleInvalid([str(problem) for problem in self.errors], self.bundle_dir)
        return self.config


def validate_bundle(
    bundle_dir: Path, *, skip: frozenset[PurePosixPath] = frozenset()
) -> ValidationReport:
    """Check the bundle at ``bundle_dir``; ``skip`` names paths to leave out of the walk."""
    if not bundle_dir.is_dir():
        raise NotFound(f"{bundle_dir}: no such bundle directory")
    problems: list[Problem] = []
    config_file, raw, config = _read_config(bundle_dir, problems)
    rules, ignore_problems = read_ignore(bundle_dir)
    problems += ignore_problems
    tree = scan_tree(bundle_dir, rules, skip=skip)
    problems += tree.problems
    problems += _required_files_kept(tree, config_file)
    hooks: tuple[str, ...] = ()
    contract = bundle_dir / CONTRACT_FILE
    if contract.is_file() and tree.exclusion_of(CONTRACT_FILE) is None:
        checked = check_contract(contract)
        hooks = checked.hooks
        problems += checked.problems
    ref = ModelRef.from_config(config) if config is not None else ModelRef.from_raw(raw)
    if ref is not None:
        problems += check_model(ref, tree, config_file, hooks)
    if config is not None:
        problems += _serving_sanity(config, config_file, hooks)
    return ValidationReport(bundle_dir, config_file, config, tuple(problems), hooks, tree)


def _read_config(bundle_dir: Path, problems: list[Problem]) -> tuple[str, Any, BundleConfig | None]:
    try:
        path = find_config_file(bundle_dir)
    except NotFound:
        problems.append(
            Problem(
                CONFIG_FILENAMES[0],
                "(file)",
                "missing: every bundle needs "
                "one (or config.json); create one with: mlctl model init NAME",
            )
        )
        return CONFIG_FILENAMES[0], None, None
    others = [n for n in CONFIG_FILENAMES if n != path.name and (bundle_dir / n).is_file()]
    problems += [warning(n, "(file)", f"ignored because {path.name} is used") for n in others]
    try:
        raw = load_raw(path)
    except BundleInvalid as invalid:
        problems += [_from_text(text) for text in invalid.problems]
        return path.name, None, None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(path.name, "(file)", f"cannot be read as UTF-8 text: {exc}"))
        return path.name, None, None
    config, errors = schema_errors(raw)
    problems += [Problem(path.name, field, message) for field, message in errors]
    return path.name, raw, config


def _from_text(text: str) -> Problem:
    file, _, rest = text.partition(": ")
    field, _, message = rest.partition(": ")
    return Problem(file, field, message)


def _required_files_kept(tree: BundleTree, config_file: str) -> list[Problem]:
    """``.mlctlignore`` must not leave out the files the server needs."""
    problems = []
    for required in (config_file, CONTRACT_FILE):
        pattern = tree.exclusion_of(required)
        if pattern is not None and (tree.root / required).exists():
            where = f"line {pattern.line}" if pattern.line else "built-in excludes"
            problems.append(
                Problem(
                    IGNORE_FILE,
                    where,
                    f"{pattern.glob!r} leaves out {required}, which the server needs",
                )
            )
    return problems


def _serving_sanity(
    config: BundleConfig, config_file: str, hooks: tuple[str, ...]
) -> list[Problem]:
    problems = []
    batch = config.serving.max_batch_size
    if batch > 1:
        for index, spec in enumerate(config.signature.inputs):
            if spec.shape[0] != -1:
                problems.append(
                    warning(
                        config_file,
                        f"signature.inputs[{index}].shape",
                        f"the first (batch) dimension is fixed at {spec.shape[0]} but "
                        f"serving.max_batch_size is {batch}, and batching joins requests along it; "
                        "use -1 or set serving.max_batch_size: 1",
                    )
                )
    gpu_idle = config.model.format is ModelFormat.SKOPS and "load" not in hooks
    if config.resources.gpu is not None and gpu_idle:
        problems.append(
            warning(
                config_file,
                "resources.gpu",
                "skops (scikit-learn) models run on the CPU, so the GPU would sit idle; remove it",
            )
        )
    return problems
