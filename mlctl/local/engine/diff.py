"""Job diffs for ``plan?diff=true``: Nomad's JobDiff / TaskGroupDiff / TaskDiff shape.

Scalars become FieldDiffs (flattened names like ``Meta[model]``), nested objects
ObjectDiffs, task groups and tasks are matched by name.
"""

from __future__ import annotations

from typing import Any

from .jobspec import VOLATILE_JOB_FIELDS

JSON = dict[str, Any]
_SKIP = set(VOLATILE_JOB_FIELDS) | {"TaskGroups", "Tasks"}


def _kind(old: Any, new: Any) -> str:
    if old is None and new is not None:
        return "Added"
    if new is None and old is not None:
        return "Deleted"
    return "Edited" if old != new else "None"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fields_and_objects(old: JSON | None, new: JSON | None) -> tuple[list[JSON], list[JSON]]:
    old, new = old or {}, new or {}
    fields: list[JSON] = []
    objects: list[JSON] = []
    for key in sorted(set(old) | set(new)):
        if key in _SKIP:
            continue
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) or isinstance(b, dict):
            if key in ("Meta", "Env", "Config", "GetterOptions"):
                for sub in sorted(set(a or {}) | set(b or {})):
                    x, y = (a or {}).get(sub), (b or {}).get(sub)
                    if x != y:
                        fields.append(
                            {
                                "Type": _kind(x, y),
                                "Name": f"{key}[{sub}]",
                                "Old": _text(x),
                                "New": _text(y),
                                "Annotations": None,
                            }
                        )
                continue
            sub_fields, sub_objects = _fields_and_objects(a, b)
            objects.append(
                {
                    "Type": _kind(a, b),
                    "Name": key,
                    "Fields": sub_fields or None,
                    "Objects": sub_objects or None,
                }
            )
        elif isinstance(a, list) or isinstance(b, list):
            la, lb = a or [], b or []
            for i in range(max(len(la), len(lb))):
                x = la[i] if i < len(la) else None
                y = lb[i] if i < len(lb) else None
                if x == y:
                    continue
                if isinstance(x, dict) or isinstance(y, dict):
                    sub_fields, sub_objects = _fields_and_objects(x, y)
                    objects.append(
                        {
                            "Type": _kind(x, y),
                            "Name": key.rstrip("s"),
                            "Fields": sub_fields or None,
                            "Objects": sub_objects or None,
                        }
                    )
                else:
                    fields.append(
                        {
                            "Type": _kind(x, y),
                            "Name": key,
                            "Old": _text(x),
                            "New": _text(y),
                            "Annotations": None,
                        }
                    )
        else:
            fields.append(
                {
                    "Type": _kind(a, b),
                    "Name": key,
                    "Old": _text(a),
                    "New": _text(b),
                    "Annotations": ["forces create/destroy update"] if key == "image" else None,
                }
            )
    return fields, objects


def _by_name(items: list[JSON] | None) -> dict[str, JSON]:
    return {i["Name"]: i for i in items or []}


def _task_diffs(old: JSON | None, new: JSON | None) -> list[JSON]:
    a, b = _by_name((old or {}).get("Tasks")), _by_name((new or {}).get("Tasks"))
    out = []
    for name in sorted(set(a) | set(b)):
        fields, objects = _fields_and_objects(a.get(name), b.get(name))
        kind = (
            _kind(a.get(name), b.get(name))
            if (fields or objects or name not in a or name not in b)
            else "None"
        )
        out.append(
            {
                "Type": kind,
                "Name": name,
                "Fields": fields or None,
                "Objects": objects or None,
                "Annotations": ["forces create/destroy update"] if kind == "Edited" else None,
            }
        )
    return out


def job_diff(old: JSON | None, new: JSON) -> JSON:
    """Diff two job versions (``old`` None means the job is new)."""
    fields, objects = _fields_and_objects(old, new)
    groups = []
    a, b = _by_name((old or {}).get("TaskGroups")), _by_name(new.get("TaskGroups"))
    for name in sorted(set(a) | set(b)):
        g_fields, g_objects = _fields_and_objects(a.get(name), b.get(name))
        tasks = _task_diffs(a.get(name), b.get(name))
        changed = g_fields or g_objects or any(t["Type"] != "None" for t in tasks)
        kind = (
            _kind(a.get(name), b.get(name))
            if (changed or name not in a or name not in b)
            else "None"
        )
        groups.append(
            {
                "Type": kind,
                "Name": name,
                "Fields": g_fields or None,
                "Objects": g_objects or None,
                "Tasks": tasks,
                "Updates": None,
            }
        )
    any_change = fields or objects or any(g["Type"] != "None" for g in groups)
    kind = "Added" if old is None else ("Edited" if any_change else "None")
    return {
        "Type": kind,
        "ID": new["ID"],
        "Fields": fields or None,
        "Objects": objects or None,
        "TaskGroups": groups,
    }
