"""A plan's diff and scheduler annotations as readable lines.

Nomad's plan answers a nested diff (job → task groups → tasks, each with ``Fields``
and ``Objects`` typed ``Added``/``Edited``/``Deleted``/``None``) and, per group, what the
scheduler would do (``DesiredTGUpdates``: place, in-place/destructive update, stop,
canary …). This renders them in the spirit of ``nomad job plan``: ``+`` added,
``~`` edited, ``-`` deleted, unchanged parts left out. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

from mlctl.nomad.types import DesiredUpdates, FieldDiff, JobDiff, ObjectDiff, PlanResponse

_MARK = {"Added": "+", "Edited": "~", "Deleted": "-", "None": " "}

#: Scheduler decisions in the order people read them, with plain names.
_UPDATE_WORDS = (
    ("Place", "place"),
    ("Canary", "canary"),
    ("InPlaceUpdate", "update in place"),
    ("DestructiveUpdate", "replace"),
    ("Migrate", "migrate"),
    ("Stop", "stop"),
    ("Preemptions", "preempt"),
    ("Ignore", "unchanged"),
)


def _changed(kind: str | None) -> bool:
    return bool(kind) and kind != "None"


def _field_line(diff: FieldDiff, indent: str) -> str:
    kind = diff.get("Type", "None")
    name = diff.get("Name", "?")
    old, new = diff.get("Old", ""), diff.get("New", "")
    if kind == "Added":
        value = f'"{new}"'
    elif kind == "Deleted":
        value = f'"{old}"'
    else:
        value = f'"{old}" => "{new}"'
    notes = diff.get("Annotations") or []
    suffix = f" ({', '.join(notes)})" if notes else ""
    return f"{indent}{_MARK.get(kind, '?')} {name}: {value}{suffix}"


def _object_lines(obj: ObjectDiff, indent: str, verbose: bool) -> Iterable[str]:
    kind = obj.get("Type", "None")
    if not _changed(kind):
        return
    yield f"{indent}{_MARK.get(kind, '?')} {obj.get('Name', '?')} {{"
    yield from _body_lines(obj.get("Fields"), obj.get("Objects"), indent + "    ", verbose)
    yield f"{indent}  }}"


def _body_lines(
    fields: list[FieldDiff] | None,
    objects: list[ObjectDiff] | None,
    indent: str,
    verbose: bool,
) -> Iterable[str]:
    for diff in fields or []:
        if _changed(diff.get("Type")):
            yield _field_line(diff, indent)
    for obj in objects or []:
        yield from _object_lines(obj, indent, verbose)


def desired_words(updates: DesiredUpdates | None) -> str:
    """``place 2, canary 1`` (zero counts left out); ``no change`` when all are zero."""
    counts = cast(Mapping[str, int], updates or {})
    parts = [
        f"{word} {int(counts[key])}"
        for key, word in _UPDATE_WORDS
        if counts.get(key) and key != "Ignore"
    ]
    return ", ".join(parts) or "no change"


def diff_lines(plan: PlanResponse, verbose: bool = False) -> list[str]:
    """The plan as lines. New jobs list groups and tasks; ``verbose`` adds every field."""
    diff: JobDiff = plan.get("Diff") or {}
    updates = (plan.get("Annotations") or {}).get("DesiredTGUpdates") or {}
    kind = diff.get("Type", "None")
    job_id = diff.get("ID", "?")
    show_fields = verbose or kind != "Added"
    lines = [f'{_MARK.get(kind, " ")} job "{job_id}"' + (" (new)" if kind == "Added" else "")]
    if show_fields:
        lines.extend(_body_lines(diff.get("Fields"), diff.get("Objects"), "    ", verbose))
    groups = {g.get("Name", "?"): g for g in diff.get("TaskGroups") or []}
    for name in sorted(set(groups) | set(updates)):
        group = groups.get(name, {})
        mark = _MARK.get(group.get("Type", "None"), " ")
        lines.append(f'  {mark} group "{name}" ({desired_words(updates.get(name))})')
        if show_fields:
            lines.extend(_body_lines(group.get("Fields"), group.get("Objects"), "      ", verbose))
        for task in group.get("Tasks") or []:
            task_kind = task.get("Type", "None")
            if not _changed(task_kind) and not verbose:
                continue
            notes = task.get("Annotations") or []
            suffix = f" ({', '.join(notes)})" if notes else ""
            lines.append(f'    {_MARK.get(task_kind, " ")} task "{task.get("Name", "?")}"{suffix}')
            if show_fields:
                lines.extend(
                    _body_lines(task.get("Fields"), task.get("Objects"), "        ", verbose)
                )
    return lines


def plan_summary(plan: PlanResponse) -> dict[str, object]:
    """The machine-readable part of a plan for ``-o json``."""
    diff: JobDiff = plan.get("Diff") or {}
    updates = (plan.get("Annotations") or {}).get("DesiredTGUpdates") or {}
    return {
        "job_id": diff.get("ID"),
        "change": (diff.get("Type") or "None").lower(),
        "groups": {name: dict(u) for name, u in sorted(updates.items())},
        "job_modify_index": plan.get("JobModifyIndex", 0),
        "warnings": plan.get("Warnings") or "",
    }
