"""Read an environment spec (YAML, or seed 001's JSON), apply flags, list every problem.

Like bundle validation, nothing stops at the first problem: schema errors, seed
conversion problems and template checks (unknown template, unknown or mistyped
variables, a GPU template without GPUs) are all collected and reported together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlctl.bundle.config import validate_model
from mlctl.bundle.problems import Problem
from mlctl.envs import seed
from mlctl.envs.catalog import Template, catalog
from mlctl.envs.files import SpecInvalid, read_file
from mlctl.envs.spec import EnvSpec

FLAGS = "(flags)"


@dataclass(frozen=True)
class LoadedSpec:
    spec: EnvSpec
    template: Template
    variables: dict[str, Any]
    """Template defaults < the app's config < the spec's variables (all checked)."""
    packages: list[str]
    """The spec's packages plus the app's requirements."""
    source: str
    """The file the spec came from, or ``(flags)``."""
    base_dir: Path
    """Relative paths in the spec (``app``) are relative to this directory."""


def merge(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Flags over the file: nested mappings merged, lists and scalars replaced."""
    out = dict(raw)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def check(
    raw: Any, source: str, base_dir: Path, overrides: Mapping[str, Any] | None = None
) -> tuple[LoadedSpec | None, list[Problem]]:
    """The loaded spec (when valid) and every problem found."""
    problems: list[Problem] = []
    if seed.is_seed_contract(raw):
        raw, seed_problems = seed.convert(raw)
        problems += [Problem(source, field, message) for field, message in seed_problems]
    if isinstance(raw, dict):
        raw = merge(raw, overrides or {})
    spec, errors = validate_model(EnvSpec, raw)
    problems += [Problem(source, field, message) for field, message in errors]
    template = None
    if isinstance(raw, dict) and isinstance(raw.get("template"), str):
        template = catalog().get(raw["template"])
        if template is None:
            problems.append(
                Problem(
                    source,
                    "template",
                    f"unknown template {raw['template']!r}; available: "
                    + ", ".join(sorted(catalog())),
                )
            )
    if spec is None or template is None:
        if template is not None and isinstance(raw, dict):
            raw_variables = raw.get("variables")
            if isinstance(raw_variables, dict):
                problems += _variables(raw_variables, template, source, {})[1]
        return None, problems
    app_variables, app_packages, app_problems = _app(spec, base_dir)
    variables, var_problems = _variables(spec.variables, template, source, app_variables)
    problems += app_problems + var_problems
    problems += _template_fit(spec, template, variables, source, base_dir)
    if problems:
        return None, problems
    packages = list(dict.fromkeys([*spec.packages, *app_packages]))
    return LoadedSpec(spec, template, variables, packages, source, base_dir), []


def _app(spec: EnvSpec, base_dir: Path) -> tuple[dict[str, Any], list[str], list[Problem]]:
    """The app directory's config (variables and requirements) and its tree's problems."""
    from mlctl.envs.app import read_app_config, tree_problems

    if spec.app is None or not (base_dir / spec.app).is_dir():
        return {}, [], []
    app_dir = base_dir / spec.app
    config, problems = read_app_config(app_dir)
    problems += tree_problems(app_dir)
    if config is None:
        return {}, [], problems
    return config.variables(), config.packages, problems


def _variables(
    given: Mapping[str, Any], template: Template, source: str, app_variables: dict[str, Any]
) -> tuple[dict[str, Any], list[Problem]]:
    values = template.defaults()
    values.update({k: v for k, v in app_variables.items() if k in template.variables})
    problems: list[Problem] = []
    for name, value in given.items():
        var = template.variables.get(name)
        if var is None:
            known = ", ".join(sorted(template.variables)) or "none"
            problems.append(
                Problem(
                    source, f"variables.{name}", f"{template.name} has no such variable ({known})"
                )
            )
            continue
        problem = var.check(value)
        if problem:
            problems.append(Problem(source, f"variables.{name}", problem))
        values[name] = value
    return values, problems


def _template_fit(
    spec: EnvSpec, template: Template, variables: dict[str, Any], source: str, base_dir: Path
) -> list[Problem]:
    problems = []
    gpu_template = "gpu" in template.resources
    if gpu_template and spec.resources.gpu is None and "gpu" in spec.resources.model_fields_set:
        problems.append(Problem(source, "resources.gpu", f"{template.name} needs a GPU"))
    if not gpu_template and spec.resources.gpu is not None:
        problems.append(
            Problem(
                source,
                "resources.gpu",
                f"{template.name} runs on CPUs; use a GPU template (jupyter-gpu)",
            )
        )
    if template.name.startswith("python-"):
        if not variables.get("command"):
            problems.append(
                Problem(
                    source,
                    "variables.command",
                    f"{template.name} needs a command (or an app whose config names one)",
                )
            )
        if spec.app is not None and not (base_dir / spec.app).is_dir():
            problems.append(Problem(source, "app", f"{spec.app}: no such app directory"))
    elif spec.app is not None:
        problems.append(Problem(source, "app", f"{template.name} does not run an app"))
    return problems


def load_spec(path: Path | None, overrides: Mapping[str, Any] | None = None) -> LoadedSpec:
    """The spec from ``path`` (or flags only) with ``overrides``; SpecInvalid lists all."""
    problems: list[Problem] = []
    raw: Any = {}
    if path is None:
        source, base_dir = FLAGS, Path.cwd()
    else:
        raw, problems = read_file(path)
        source, base_dir = path.name, path.parent
    if problems:
        raise SpecInvalid(problems)
    loaded, problems = check(raw, source, base_dir, overrides)
    if loaded is None:
        raise SpecInvalid(problems)
    return loaded
