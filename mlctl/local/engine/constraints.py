"""Constraint evaluation: resolve ``${attr.*}``/``${node.*}``/``${device.*}`` targets and
apply Nomad's operators, including unit-aware comparison of device attributes
("16384 MiB" vs "16 GiB")."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

JSON = dict[str, Any]

_UNIT_SCALE = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
    "Hz": 1,
    "KHz": 1000,
    "MHz": 1000**2,
    "GHz": 1000**3,
    "mW": 1,
    "W": 1000,
    "kW": 1000**2,
    "MB/s": 1000**2,
    "GB/s": 1000**3,
}
_UNIT_FAMILY = {
    u: (
        "bytes"
        if u.endswith("B")
        else "hz"
        if u.endswith("Hz")
        else "w"
        if u.endswith("W")
        else "rate"
    )
    for u in _UNIT_SCALE
}
_WITH_UNIT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z/]+)?\s*$")


def resolve(target: str, node: JSON, device: JSON | None = None) -> str | None:
    """The value a constraint target names on this node (or device); None when unset."""
    if not (target.startswith("${") and target.endswith("}")):
        return target
    path = target[2:-1]
    if path.startswith("attr."):
        value = node["Attributes"].get(path[5:])
        return None if value is None else str(value)
    if path.startswith("meta."):
        value = (node.get("Meta") or {}).get(path[5:])
        return None if value is None else str(value)
    simple: dict[str, str] = {
        "node.unique.id": node["ID"],
        "node.unique.name": node["Name"],
        "node.datacenter": node["Datacenter"],
        "node.class": node["NodeClass"],
        "node.pool": node["NodePool"],
        "node.region": "global",
    }
    if path in simple:
        return simple[path]
    if device is not None:
        if path == "device.model":
            return device["Name"]  # type: ignore[no-any-return]
        if path == "device.vendor":
            return device["Vendor"]  # type: ignore[no-any-return]
        if path == "device.type":
            return device["Type"]  # type: ignore[no-any-return]
        if path.startswith("device.attr."):
            attr = (device.get("Attributes") or {}).get(path[12:])
            return attribute_text(attr) if attr is not None else None
    return None


def attribute_text(attr: JSON) -> str:
    """Render a typed device attribute ({"Int": 15360, "Unit": "MiB"}) as "15360 MiB"."""
    for key in ("Int", "Float", "String", "Bool"):
        if attr.get(key) is not None:
            value = attr[key]
            text = str(value).lower() if key == "Bool" else str(value)
            return f"{text} {attr['Unit']}" if attr.get("Unit") else text
    return ""


def _number(text: str) -> tuple[float, str | None] | None:
    m = _WITH_UNIT.match(text)
    if not m:
        return None
    unit = m.group(2)
    if unit is not None and unit not in _UNIT_SCALE:
        return None
    return float(m.group(1)), unit


def _compare(left: str, right: str) -> int | None:
    """-1/0/1 comparing numbers (unit-aware) when both sides are numeric, else lexically."""
    ln, rn = _number(left), _number(right)
    if ln is not None and rn is not None:
        (lv, lu), (rv, ru) = ln, rn
        if (lu is None) != (ru is None):
            # Nomad converts a unitless value into the other side's unit.
            lu = lu or ru
            ru = ru or lu
        if lu is not None and ru is not None:
            if _UNIT_FAMILY[lu] != _UNIT_FAMILY[ru]:
                return None
            lv *= _UNIT_SCALE[lu]
            rv *= _UNIT_SCALE[ru]
        return (lv > rv) - (lv < rv)
    return (left > right) - (left < right)


def _version(text: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", text.split("-")[0].split("+")[0])
    return tuple(int(p) for p in parts[:3]) + (0,) * (3 - len(parts[:3]))


def _version_ok(value: str, spec: str) -> bool:
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        m = re.match(r"^(>=|<=|!=|~>|=|>|<)?\s*(.+)$", clause)
        if not m:
            return False
        op, want = m.group(1) or "=", _version(m.group(2))
        have = _version(value)
        if op == "~>":
            depth = len(re.findall(r"\d+", m.group(2))) - 1
            if not (have >= want and have[:depth] == want[:depth]):
                return False
            continue
        cmp = (have > want) - (have < want)
        ok = {
            "=": cmp == 0,
            "!=": cmp != 0,
            ">": cmp > 0,
            ">=": cmp >= 0,
            "<": cmp < 0,
            "<=": cmp <= 0,
        }[op]
        if not ok:
            return False
    return True


def satisfied(constraint: JSON, node: JSON, device: JSON | None = None) -> bool:
    """Does the node (or device on it) meet one constraint? (distinct_* live in the placer)"""
    operand = constraint.get("Operand") or "="
    if operand in ("distinct_hosts", "distinct_property"):
        return True
    left = resolve(constraint.get("LTarget") or "", node, device)
    right_raw = constraint.get("RTarget") or ""
    right = resolve(right_raw, node, device) if right_raw.startswith("${") else right_raw
    if operand == "is_set":
        return left is not None
    if operand == "is_not_set":
        return left is None
    if left is None or right is None:
        return False
    if operand in ("=", "==", "is"):
        cmp = _compare(left, right) if device is not None else None
        return cmp == 0 if cmp is not None else left == right
    if operand in ("!=", "not"):
        return left != right
    if operand in ("<", "<=", ">", ">="):
        cmp = _compare(left, right)
        if cmp is None:
            return False
        return {"<": cmp < 0, "<=": cmp <= 0, ">": cmp > 0, ">=": cmp >= 0}[operand]
    if operand == "regexp":
        try:
            return re.search(right, left) is not None
        except re.error:
            return False
    if operand in ("version", "semver"):
        return _version_ok(left, right)
    items = {s.strip() for s in left.split(",")}
    wanted = {s.strip() for s in right.split(",")}
    if operand in ("set_contains", "set_contains_all"):
        return wanted <= items
    if operand == "set_contains_any":
        return bool(wanted & items)
    return False


def describe(constraint: JSON) -> str:
    """The key Nomad uses in ConstraintFiltered: "LTarget Operand RTarget"."""
    left, right = constraint.get("LTarget", ""), constraint.get("RTarget", "")
    return f"{left} {constraint.get('Operand', '=')} {right}"


def datacenter_matches(node_dc: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(node_dc, p) for p in patterns)


def device_name_matches(request: str, device: JSON) -> bool:
    """A request names "type", "vendor/type" or "vendor/type/model"."""
    parts = request.split("/")
    if len(parts) == 1:
        return bool(parts[0] == device["Type"])
    if len(parts) == 2:
        return bool(parts[0] == device["Vendor"] and parts[1] == device["Type"])
    return bool(
        parts[0] == device["Vendor"]
        and parts[1] == device["Type"]
        and "/".join(parts[2:]) == device["Name"]
    )
