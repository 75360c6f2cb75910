"""Schedules in Nomad Variables: ``mlctl/schedules/<model>`` in the model's namespace.

The variable holds one item, ``schedule``: the JSON of a
:class:`~mlctl.schedule.spec.StoredSchedule`. Keeping it in Nomad means the monitor
holds no state of its own (any replica can take over) and Nomad's ACLs decide who may
read or change a schedule (see ``vault-policies/``).

Every change is read → modify → write with check-and-set on the ``ModifyIndex`` that
was read; a 409 means someone else wrote in between, so the change is applied again to
what they wrote, never over it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from pydantic import ValidationError

from mlctl.errors import Conflict
from mlctl.nomad.client import NomadClient
from mlctl.nomad.variables import Variable, VariableConflict
from mlctl.schedule.problems import ScheduleInvalid
from mlctl.schedule.spec import StoredSchedule

PREFIX: Final = "mlctl/schedules"
ITEM: Final = "schedule"
#: Times a change is re-applied after losing a check-and-set race before giving up.
CAS_ATTEMPTS: Final = 8


def path_for(model: str) -> str:
    return f"{PREFIX}/{model}"


def model_of(path: str) -> str | None:
    head, _, model = path.rpartition("/")
    return model if head == PREFIX and model else None


@dataclass(frozen=True)
class Entry:
    """One stored schedule and the ModifyIndex it was read at."""

    namespace: str
    model: str
    doc: StoredSchedule
    modify_index: int


class Unchanged:
    """Returned by a change function to leave the variable as it is."""


UNCHANGED: Final = Unchanged()
Change = Callable[[StoredSchedule | None], "StoredSchedule | Unchanged | None"]


def parse_variable(var: Variable) -> StoredSchedule:
    """The document in a variable; ScheduleInvalid naming the variable when it is not one."""
    where = f"variable {var.get('Path')} in namespace {var.get('Namespace')}"
    raw = (var.get("Items") or {}).get(ITEM)
    if raw is None:
        raise ScheduleInvalid(f"{where} has no {ITEM!r} item", hint="remove it: mlctl schedule rm")
    try:
        return StoredSchedule.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as error:
        first = str(error).splitlines()[0][:200]
        raise ScheduleInvalid(
            f"{where} does not hold a valid schedule: {first}",
            hint="fix it with mlctl schedule add/rm, or remove it with mlctl schedule rm",
        ) from None


def read(client: NomadClient, model: str, namespace: str | None = None) -> Entry | None:
    var = client.variables.read(path_for(model), namespace)
    if var is None:
        return None
    return Entry(
        var.get("Namespace") or namespace or client.namespace,
        model,
        parse_variable(var),
        int(var.get("ModifyIndex") or 0),
    )


def update(
    client: NomadClient, model: str, change: Change, namespace: str | None = None
) -> StoredSchedule | None:
    """Apply ``change`` to the stored schedule with check-and-set, retrying lost races.

    ``change`` gets the current document (None when there is none) and returns the new
    one, None to delete it, or :data:`UNCHANGED`. Returns what is stored afterwards.
    """
    path = path_for(model)
    for _ in range(CAS_ATTEMPTS):
        current = read(client, model, namespace)
        doc = current.doc if current else None
        index = current.modify_index if current else 0
        wanted = change(doc)
        try:
            if isinstance(wanted, Unchanged):
                return doc
            if wanted is None:
                if current is not None:
                    client.variables.delete(path, namespace=namespace, cas=index)
                return None
            client.variables.write(path, {ITEM: wanted.to_json()}, namespace=namespace, cas=index)
            return wanted
        except VariableConflict:
            continue
    raise Conflict(
        f"the schedule of {model} kept changing while it was being written",
        hint="someone else is editing it; try again",
    )


def list_entries(client: NomadClient, namespace: str | None = None) -> list[Entry]:
    """Every stored schedule in ``namespace`` (``"*"``: every namespace the token may read)."""
    entries = []
    for meta in client.variables.list(PREFIX + "/", namespace):
        model = model_of(meta.get("Path", ""))
        if model is None:
            continue
        entry = read(client, model, meta.get("Namespace") or namespace)
        if entry is not None:
            entries.append(entry)
    return sorted(entries, key=lambda e: (e.namespace, e.model))


def stamp(doc: StoredSchedule, by: str, now: datetime | None = None) -> StoredSchedule:
    """``doc`` marked as changed by ``by`` at ``now``."""
    at = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return doc.model_copy(update={"updated_by": by, "updated_at": at})
