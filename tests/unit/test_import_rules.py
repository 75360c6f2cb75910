"""The dependency direction of ARCHITECTURE.md, enforced on the source.

``cli, tui -> session -> access/monitor/schedule/deploy -> nomad, vault -> transport``:
the Nomad and Vault facades never import each other (nor anything above them), and
the login cache imports neither. Every import counts, including the lazy ones inside
functions, because a lazy import is still a cycle at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mlctl"

#: package (or module) -> what it must never import.
FORBIDDEN = {
    "mlctl.nomad": ("mlctl.vault", "mlctl.access", "mlctl.session", "mlctl.credentials"),
    "mlctl.vault": ("mlctl.nomad", "mlctl.access", "mlctl.session", "mlctl.credentials"),
    "mlctl.access": ("mlctl.session", "mlctl.cli"),
    "mlctl.credentials": ("mlctl.nomad", "mlctl.vault", "mlctl.access", "mlctl.session"),
    "mlctl": ("textual", "mlctl_tui"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, relative imports resolved to absolute names."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _inside(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def module_violations(module: str, source: str, is_package: bool = False) -> list[str]:
    found = []
    for owner, banned in FORBIDDEN.items():
        if not _inside(module, owner):
            continue
        for name in sorted(imported_names(source, module, is_package)):
            hits = [b for b in banned if _inside(name, b)]
            found += [f"{module} imports {name} (forbidden: {hits[0]})"] if hits else []
    return found


def test_nomad_and_vault_never_import_each_other_or_anything_above():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        found += module_violations(_module_name(path), source, path.name == "__init__.py")
    assert found == []


def test_the_rule_catches_a_lazy_import():
    """The checker itself works: a function-level import of mlctl.nomad is caught."""
    source = "def f():\n    from mlctl.nomad.client import connect\n    return connect\n"
    assert module_violations("mlctl.vault.probe", source) == [
        "mlctl.vault.probe imports mlctl.nomad.client (forbidden: mlctl.nomad)",
        "mlctl.vault.probe imports mlctl.nomad.client.connect (forbidden: mlctl.nomad)",
    ]
    assert module_violations("mlctl.access.probe", source) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from . import client", "mlctl.vault.client"),
        ("from .errors import vault_errors", "mlctl.vault.errors"),
        ("from ..nomad import acl", "mlctl.nomad.acl"),
    ],
)
def test_relative_imports_are_resolved(source, expected):
    assert expected in imported_names(source, "mlctl.vault.probe")
