"""What a setup step did, for the "changed vs already in place" tables."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Change:
    """One resource and what happened to it: created, updated, unchanged, deleted, revoked."""

    system: str  # "vault" or "nomad"
    kind: str  # e.g. "auth method", "policy", "namespace"
    name: str
    action: str

    def row(self) -> dict[str, Any]:
        return asdict(self)


def summary(changes: list[Change]) -> str:
    """One line: how many resources changed and how many were already in place."""
    changed = sum(1 for c in changes if c.action != "unchanged")
    kept = len(changes) - changed
    if not changed:
        return f"nothing changed: all {kept} resources were already in place"
    return f"{changed} changed, {kept} already in place"
