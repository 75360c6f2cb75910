"""The environment templates shipped in ``jobspecs/environments/templates.yaml``.

Each template declares its kind (service or batch), whether it gets a secret token,
default resources, and typed variables with defaults and descriptions (nomad-pack's
idea). Values given in a spec or with ``--var`` are checked here against those types,
so a wrong type is reported with the variable's name before anything is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from mlctl.errors import ConfigError, NotFound
from mlctl.paths import data_dir

CATALOG_FILE = "templates.yaml"
TYPES = ("string", "number", "bool", "list(string)")


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    default: Any
    description: str
    choices: tuple[Any, ...] = ()

    @property
    def nullable(self) -> bool:
        return self.type.endswith(" or null")

    @property
    def base_type(self) -> str:
        return self.type.removesuffix(" or null")

    def check(self, value: Any) -> str | None:
        """Why ``value`` does not fit, or None."""
        if value is None:
            return None if self.nullable else f"must be a {self.base_type}, not null"
        ok = {
            "string": isinstance(value, str),
            "number": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "list(string)": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }[self.base_type]
        if not ok:
            return f"must be a {self.base_type} (got {value!r})"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))} (got {value!r})"
        return None

    def parse(self, text: str) -> Any:
        """A ``--var NAME=TEXT`` value in this variable's type (YAML for non-strings)."""
        if self.base_type == "string":
            return text
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    kind: str
    token: bool
    resources: Mapping[str, Any]
    variables: Mapping[str, Variable] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return f"environments/{self.name}.nomad.hcl.j2"

    def defaults(self) -> dict[str, Any]:
        return {name: var.default for name, var in self.variables.items()}


def _variable(template: str, name: str, raw: Mapping[str, Any]) -> Variable:
    var = Variable(
        name=name,
        type=str(raw.get("type", "")),
        default=raw.get("default"),
        description=str(raw.get("description", "")),
        choices=tuple(raw.get("choices") or ()),
    )
    if var.base_type not in TYPES or not var.description:
        raise ConfigError(
            f"{CATALOG_FILE}: {template}.{name}: needs a known type and a description"
        )
    problem = var.check(var.default)
    if problem:
        raise ConfigError(f"{CATALOG_FILE}: {template}.{name}: default {problem}")
    return var


@lru_cache(maxsize=1)
def catalog() -> dict[str, Template]:
    """Every shipped template by name (read once)."""
    raw = yaml.safe_load((data_dir("jobspecs") / "environments" / CATALOG_FILE).read_text())
    templates = {}
    for name, body in raw.items():
        variables = {
            var: _variable(name, var, spec) for var, spec in (body.get("variables") or {}).items()
        }
        templates[name] = Template(
            name=name,
            description=str(body["description"]),
            kind=str(body["kind"]),
            token=bool(body.get("token")),
            resources=dict(body.get("resources") or {}),
            variables=variables,
        )
    return templates


def get_template(name: str) -> Template:
    templates = catalog()
    if name not in templates:
        raise NotFound(
            f"no environment template named {name!r}",
            hint="available: " + ", ".join(sorted(templates)) + " (mlctl env templates)",
        )
    return templates[name]
