"""Vault ACL policies: HCL parsing and the documented path-matching rules.

From Vault's "Policies" concept page: deny by default; a path is exact, ends in a
``*`` glob (prefix match), or has ``+`` segments; the same pattern in several
policies unions its capabilities, otherwise only the highest-priority matching
pattern counts (first wildcard later > no trailing ``*`` > fewer ``+`` > longer >
lexicographically larger); ``deny`` beats everything, including ``sudo``. A list
request's path ends in ``/`` and also matches an exact rule without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import hcl2

CAPABILITIES = frozenset({"create", "read", "update", "patch", "delete", "list", "sudo", "deny"})


class PolicyError(ValueError):
    """A policy text Vault would refuse to store (answered with 400)."""


def _unquote(value: object) -> object:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


@dataclass(frozen=True)
class Rule:
    """One ``path "…" { capabilities = [...] }`` block."""

    pattern: str
    capabilities: frozenset[str]

    @property
    def is_glob(self) -> bool:
        return self.pattern.endswith("*")

    @property
    def has_wildcard(self) -> bool:
        return self.is_glob or "+" in self.pattern.split("/")

    def priority(self) -> tuple[int, int, int, int, str]:
        """Sort key: larger is higher priority (Vault's five rules, in order)."""
        positions = [i for i, ch in enumerate(self.pattern) if ch in "+*"]
        first_wild = positions[0] if positions else 1 << 30
        plus_segments = self.pattern.split("/").count("+")
        return (
            first_wild,
            0 if self.is_glob else 1,
            -plus_segments,
            len(self.pattern),
            self.pattern,
        )

    def matches(self, path: str) -> bool:
        return _compile(self.pattern).fullmatch(path) is not None


_CACHE: dict[str, re.Pattern[str]] = {}


def _compile(pattern: str) -> re.Pattern[str]:
    if pattern not in _CACHE:
        glob = pattern.endswith("*")
        body = pattern[:-1] if glob else pattern
        parts = ["[^/]+" if seg == "+" else re.escape(seg) for seg in body.split("/")]
        _CACHE[pattern] = re.compile("/".join(parts) + (".*" if glob else ""))
    return _CACHE[pattern]


def parse_policy(text: str) -> list[Rule]:
    """The rules of an HCL (or JSON-as-HCL) policy, or :class:`PolicyError`."""
    try:
        document = hcl2.loads(text)
    except Exception as exc:
        raise PolicyError(f"failed to parse policy: {exc}".splitlines()[0]) from exc
    unknown = {k for k in document if not k.startswith("__")} - {"path", "name"}
    if unknown:
        raise PolicyError(f"failed to parse policy: invalid key {sorted(unknown)[0]!r}")
    rules: list[Rule] = []
    for block in document.get("path", []):
        for raw_pattern, body in block.items():
            pattern = str(_unquote(raw_pattern)).lstrip("/")
            if not isinstance(body, dict):
                raise PolicyError(f"path {pattern!r}: expected a block")
            caps = _unquote(body.get("capabilities", []))
            if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
                raise PolicyError(f"path {pattern!r}: capabilities must be a list of strings")
            bad = set(caps) - CAPABILITIES
            if bad:
                raise PolicyError(f"path {pattern!r}: invalid capability {sorted(bad)[0]!r}")
            if "*" in pattern[:-1]:
                raise PolicyError(f"path {pattern!r}: '*' is only allowed at the end")
            rules.append(Rule(pattern, frozenset(caps)))
    return rules


@dataclass
class ACL:
    """The merged rules of every policy a token carries."""

    root: bool = False
    rules: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, policies: list[list[Rule]], root: bool = False) -> ACL:
        acl = cls(root=root)
        for rules in policies:
            for rule in rules:
                acl.rules.setdefault(rule.pattern, set()).update(rule.capabilities)
        return acl

    def capabilities(self, path: str, listing: bool = False) -> set[str]:
        """The capabilities in force on ``path`` (empty: denied)."""
        if self.root:
            return {"root"}
        exact = [path, path.rstrip("/")] if listing else [path]
        for candidate in exact:
            if candidate in self.rules and not Rule(candidate, frozenset()).has_wildcard:
                return self._effective(self.rules[candidate])
        matching = [Rule(p, frozenset(c)) for p, c in self.rules.items()]
        matching = [r for r in matching if r.has_wildcard and r.matches(path)]
        if not matching:
            return set()
        best = max(matching, key=Rule.priority)
        return self._effective(set(best.capabilities))

    @staticmethod
    def _effective(caps: set[str]) -> set[str]:
        return {"deny"} if "deny" in caps else caps

    def allows(self, path: str, capability: str, *, sudo: bool = False) -> bool:
        """Whether ``capability`` (plus ``sudo`` on root-protected paths) is granted."""
        caps = self.capabilities(path, listing=capability == "list")
        if "root" in caps:
            return True
        if "deny" in caps or capability not in caps:
            return False
        return not sudo or "sudo" in caps
