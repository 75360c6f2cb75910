"""Nomad ACLs: policies (HCL rules), tokens, and the capability check every route runs.

Rules follow the ACL policy docs: ``namespace "<glob>" { policy = "read|write|scale|deny"
capabilities = [...] variables { path "<glob>" { capabilities = [...] } } }`` plus
``node``, ``agent``, ``operator``, ``quota``, ``plugin`` and ``host_volume`` blocks with a
policy.  Shorthand policies expand to capability sets; ``deny`` always wins; an exact
namespace rule beats a glob, and the closest glob wins.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import hcl2

from .hclparse import ParseError, _is_block_item, _unquote

JSON = dict[str, Any]

READ_CAPS = [
    "list-jobs",
    "parse-job",
    "read-job",
    "csi-list-volume",
    "csi-read-volume",
    "read-job-scaling",
    "list-scaling-policies",
    "read-scaling-policy",
    "host-volume-read",
]
WRITE_CAPS = [
    *READ_CAPS,
    "scale-job",
    "submit-job",
    "dispatch-job",
    "read-logs",
    "read-fs",
    "alloc-exec",
    "alloc-lifecycle",
    "csi-mount-volume",
    "csi-write-volume",
    "submit-recommendation",
    "host-volume-create",
    "host-volume-register",
]
SCALE_CAPS = ["list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job"]
NAMESPACE_CAPS = set(WRITE_CAPS) | {
    "deny",
    "sentinel-override",
    "alloc-node-exec",
    "host-volume-write",
    "host-volume-delete",
    "csi-register-plugin",
}
VARIABLE_CAPS = {"read", "write", "list", "destroy", "deny"}
COARSE_POLICIES = ("deny", "read", "write")
TOP_BLOCKS = (
    "namespace",
    "node",
    "agent",
    "operator",
    "quota",
    "plugin",
    "host_volume",
    "node_pool",
)

PERMISSION_DENIED = "Permission denied"
TOKEN_NOT_FOUND = "ACL token not found"  # noqa: S105 - an error message
TOKEN_EXPIRED = "ACL token expired"  # noqa: S105 - an error message


@dataclass
class NamespaceRule:
    capabilities: set[str]
    variables: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Policy:
    """A parsed ACL policy."""

    namespaces: dict[str, NamespaceRule] = field(default_factory=dict)
    coarse: dict[str, str] = field(default_factory=dict)  # node/agent/operator/... -> policy


def parse_policy(rules: str) -> Policy:
    """Parse policy HCL; ParseError (HTTP 400 'Failed to parse ACL Policy') names the problem."""
    try:
        tree = hcl2.loads(rules)
    except Exception as exc:  # lark's syntax errors
        raise ParseError(f"Failed to parse ACL Policy: {str(exc).splitlines()[0]}") from None
    policy = Policy()
    for key, value in tree.items():
        if key.startswith("__"):
            continue
        if key not in TOP_BLOCKS:
            raise ParseError(f'Failed to parse ACL Policy: unexpected block "{key}"')
        if key == "namespace":
            for block in value:
                labels = [k for k in block if not k.startswith("__")]
                if not _is_block_item(block) or len(labels) != 1:
                    raise ParseError("Failed to parse ACL Policy: namespace needs a name")
                name = _unquote(labels[0], "namespace")
                policy.namespaces[name] = _namespace_rule(name, block[labels[0]])
        else:
            for block in value if isinstance(value, list) else [value]:
                raw = block.get("policy")
                level = _unquote(raw, key) if raw is not None else ""
                if level not in COARSE_POLICIES and not (key == "plugin" and level == "list"):
                    raise ParseError(f'Failed to parse ACL Policy: invalid {key} policy "{level}"')
                policy.coarse[key] = level
    return policy


def _namespace_rule(name: str, body: JSON) -> NamespaceRule:
    caps: set[str] = set()
    level = body.get("policy")
    if level is not None:
        level = _unquote(level, f"namespace {name}")
        expanded = {
            "deny": ["deny"],
            "read": READ_CAPS,
            "write": WRITE_CAPS,
            "scale": SCALE_CAPS,
        }.get(level)
        if expanded is None:
            raise ParseError(f'Failed to parse ACL Policy: invalid namespace policy "{level}"')
        caps.update(expanded)
    for raw in body.get("capabilities") or []:
        cap = _unquote(raw, "capabilities")
        if cap not in NAMESPACE_CAPS:
            raise ParseError(f'Failed to parse ACL Policy: invalid namespace capability "{cap}"')
        caps.add(cap)
    # A coarse namespace policy grants no variable access: Nomad's policy parser expands
    # `policy` into job capabilities only, and variables need an explicit `variables` block.
    variables: dict[str, set[str]] = {}
    for block in body.get("variables") or []:
        for path_block in block.get("path") or []:
            for raw_path, inner in path_block.items():
                if raw_path.startswith("__"):
                    continue
                path = _unquote(raw_path, "variables path")
                var_caps = {
                    _unquote(c, "variables capabilities") for c in inner.get("capabilities") or []
                }
                bad = var_caps - VARIABLE_CAPS
                if bad:
                    raise ParseError(
                        f"Failed to parse ACL Policy: bad variable capability {sorted(bad)[0]!r}"
                    )
                if "read" in var_caps:
                    var_caps.add("list")  # Nomad's expandVariablesCapabilities
                variables[path] = var_caps
    extra = [
        k
        for k in body
        if k not in ("policy", "capabilities", "variables") and not k.startswith("__")
    ]
    if extra:
        raise ParseError(
            f'Failed to parse ACL Policy: unexpected key "{extra[0]}" in namespace "{name}"'
        )
    return NamespaceRule(caps, variables)


def _closest(rules: dict[str, Any], name: str) -> Any | None:
    if name in rules:
        return rules[name]
    matches = [
        (len(pattern) - pattern.count("*"), pattern)
        for pattern in rules
        if fnmatch.fnmatchcase(name, pattern)
    ]
    if not matches:
        return None
    return rules[max(matches)[1]]


@dataclass(frozen=True)
class WorkloadClaim:
    """Who a task is (its workload identity): namespace, job, group and task.

    ``job`` is the parent job's ID for dispatched and periodic children, as Nomad's
    ``GetIDforWorkloadIdentity`` gives it, so every dispatch reads its parent's variables.
    """

    namespace: str
    job: str
    group: str
    task: str

    def variable_paths(self) -> set[str]:
        """The paths the implicit workload policy may read (and list)."""
        base = f"nomad/jobs/{self.job}"
        return {"nomad/jobs", base, f"{base}/{self.group}", f"{base}/{self.group}/{self.task}"}


WORKLOAD_VARIABLE_CAPS = frozenset({"read", "list"})


@dataclass
class Grant:
    """The union of a token's policies, answering capability questions."""

    management: bool
    policies: list[Policy]
    claim: WorkloadClaim | None = None
    """Set for a workload identity: adds Nomad's implicit access to its own variables."""

    def namespace_caps(self, namespace: str) -> set[str]:
        caps: set[str] = set()
        for policy in self.policies:
            rule = _closest(policy.namespaces, namespace)
            if rule is not None:
                caps |= rule.capabilities
        return caps

    def allow_namespace(self, namespace: str, capability: str) -> bool:
        if self.management:
            return True
        caps = self.namespace_caps(namespace)
        return "deny" not in caps and capability in caps

    def allow_any_namespace_op(self, namespace: str) -> bool:
        if self.management:
            return True
        caps = self.namespace_caps(namespace)
        return bool(caps) and "deny" not in caps

    def allow_coarse(self, area: str, level: str) -> bool:
        """node/agent/operator: read is allowed by read or write; deny wins."""
        if self.management:
            return True
        levels = {p.coarse.get(area) for p in self.policies} - {None}
        if "deny" in levels:
            return False
        if level == "read":
            return bool(levels & {"read", "write"})
        return "write" in levels

    def allow_variable(self, namespace: str, path: str, capability: str) -> bool:
        if self.management:
            return True
        caps: set[str] = set()
        exact = False
        for policy in self.policies:
            rule = _closest(policy.namespaces, namespace)
            if rule is None:
                continue
            if "deny" in rule.capabilities:
                return False
            exact = exact or path in rule.variables
            var = _closest(rule.variables, path)
            if var is not None:
                caps |= var
        claim = self.claim
        # Nomad checks an exact policy path first, then the workload's own paths, then
        # globs (acl.matchingVariablesCapabilitySet).
        if (
            not exact
            and claim is not None
            and claim.namespace == namespace
            and path in claim.variable_paths()
        ):
            caps = set(WORKLOAD_VARIABLE_CAPS)
        return "deny" not in caps and capability in caps


ANONYMOUS = Grant(False, [])
MANAGEMENT = Grant(True, [])
