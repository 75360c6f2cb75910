"""Applications: a directory of sources plus its config, packaged like a bundle.

Seed 003 uploads "a zip with the sources and a config.json of dependencies"; here an
app directory holds ``mlctl-app.yaml`` (or ``config.json``) saying how to run it::

    command: [python, -m, uvicorn, app:app, --host, 0.0.0.0, --port, "${NOMAD_PORT_http}"]
    port: 8000
    health_path: /healthz
    replicas: 2
    version: "1.0"
    requirements: [starlette, uvicorn]       # seed 003 calls it "dependencies"

The directory is packaged with the bundle machinery (same ignore rules, refusals of
links leaving the tree, devices and size limits, the same reproducible bytes), Nomad
fetches the archive with its checksum, and its unpacking follows the same rules.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from mlctl.bundle.config import validate_model
from mlctl.bundle.ignore import read_ignore
from mlctl.bundle.package import write_entries
from mlctl.bundle.problems import Problem
from mlctl.bundle.schema import PipRequirement, Strict
from mlctl.bundle.tree import scan_tree
from mlctl.envs.files import SpecInvalid, read_file

APP_CONFIG_FILES = ("mlctl-app.yaml", "mlctl-app.yml", "config.json")


class AppConfig(Strict):
    command: list[str] | None = Field(default=None, min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    health_path: str | None = Field(default=None, pattern=r"^/[\x21-\x7e]*$")
    replicas: int | None = Field(default=None, ge=0, le=1000)
    version: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
    requirements: list[PipRequirement] = Field(default_factory=list)
    dependencies: list[PipRequirement] = Field(
        default_factory=list, description="Seed 003's name for requirements."
    )
    model_name: str | None = Field(
        default=None, description="Seed 003: ignored (the spec names it)."
    )

    @model_validator(mode="after")
    def _one_list(self) -> AppConfig:
        if self.requirements and self.dependencies:
            raise ValueError("give requirements or dependencies, not both")
        return self

    def variables(self) -> dict[str, Any]:
        """The template variables this config sets."""
        fields = ("command", "port", "health_path", "replicas", "version")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}

    @property
    def packages(self) -> list[str]:
        return list(self.requirements or self.dependencies)


def find_app_config(app_dir: Path) -> Path | None:
    return next((app_dir / n for n in APP_CONFIG_FILES if (app_dir / n).is_file()), None)


def read_app_config(app_dir: Path) -> tuple[AppConfig | None, list[Problem]]:
    """The app's config (an empty one when it has none) and every problem in it."""
    path = find_app_config(app_dir)
    if path is None:
        return AppConfig(), []
    raw, problems = read_file(path)
    if problems:
        return None, problems
    config, errors = validate_model(AppConfig, raw)
    where = f"{app_dir.name}/{path.name}"
    return config, [Problem(where, field, message) for field, message in errors]


@dataclass(frozen=True)
class PackagedApp:
    path: Path
    sha256: str
    size: int


def tree_problems(app_dir: Path) -> list[Problem]:
    rules, problems = read_ignore(app_dir)
    return problems + list(scan_tree(app_dir, rules).problems)


@contextmanager
def packaged_app(app_dir: Path, name: str) -> Iterator[PackagedApp]:
    """The app as a reproducible ``.tar.gz`` in a private temporary directory."""
    rules, problems = read_ignore(app_dir)
    tree = scan_tree(app_dir, rules)
    problems += list(tree.problems)
    if problems:
        raise SpecInvalid(problems)
    with tempfile.TemporaryDirectory(prefix="mlctl-app-") as tmp:
        target = Path(tmp) / f"{name}-app.tar.gz"
        digest, size = write_entries(target, tree.entries)
        yield PackagedApp(target, digest, size)
