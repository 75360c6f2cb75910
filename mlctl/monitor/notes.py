"""Operators' notes on alerts: who acknowledged one, and until when it is silenced.

A note is the Nomad Variable ``mlctl/alerts/notes/<fingerprint>`` in the alert's
namespace (``default`` for alerts without one, such as node alerts), item ``note``: a
JSON object with ``fingerprint``, ``labels``, ``acked_by``, ``acked_at``,
``silenced_until``, ``silenced_by`` and ``comment``. ``mlctl tui`` writes them with
check-and-set; every TUI shows them; the monitor holds back the notifications of a
silenced alert until the silence ends (:class:`Silences`, Alertmanager's semantics: the
alert keeps firing and stays listed, only what would page people waits).

Because the Variable lives in the alert's namespace, Nomad's ACLs decide who may
silence what: a data scientist can silence their team's alerts and nobody else's. A
note is honoured only where it belongs (:func:`belongs`): its labels must have the
fingerprint it claims, and it must sit in the namespace those labels name, so a note
written in one namespace cannot silence another namespace's alert.

The pure part (the note, :class:`Silences`) is separate from the reads and writes
(:func:`read_all`, :func:`save`, :func:`delete`), which go through
:mod:`mlctl.nomad.variables`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from mlctl.errors import Conflict, InvalidInput
from mlctl.monitor.alerts import fingerprint
from mlctl.monitor.views import Alert
from mlctl.nomad.client import NomadClient
from mlctl.nomad.variables import VariableConflict

PREFIX: Final = "mlctl/alerts/notes"
ITEM: Final = "note"
#: Times a note is re-read and written again after losing a check-and-set race.
CAS_ATTEMPTS: Final = 8
#: Longest comment kept (a note is a small record, not a document).
MAX_COMMENT = 500


def path_for(fp: str) -> str:
    return f"{PREFIX}/{fp}"


def namespace_of(labels: Mapping[str, str]) -> str:
    """Where an alert's note lives: its namespace label, else ``default``."""
    return labels.get("namespace") or "default"


@dataclass(frozen=True, slots=True)
class AlertNote:
    """What operators said about one alert (by fingerprint)."""

    fingerprint: str
    namespace: str
    labels: Mapping[str, str]
    acked_by: str = ""
    acked_at: datetime | None = None
    silenced_until: datetime | None = None
    silenced_by: str = ""
    comment: str = ""

    def silenced(self, now: datetime) -> bool:
        return self.silenced_until is not None and now < self.silenced_until

    def to_json(self) -> str:
        return json.dumps(
            {
                "fingerprint": self.fingerprint,
                "labels": dict(self.labels),
                "acked_by": self.acked_by,
                "acked_at": _iso(self.acked_at),
                "silenced_until": _iso(self.silenced_until),
                "silenced_by": self.silenced_by,
                "comment": self.comment,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, namespace: str, text: str) -> AlertNote:
        """Parse a stored note; ValueError when it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str):
            raise ValueError("not an alert note")
        labels = data.get("labels") or {}
        if not isinstance(labels, dict):
            raise ValueError("an alert note's labels must be an object")
        return cls(
            fingerprint=data["fingerprint"],
            namespace=namespace,
            labels={str(k): str(v) for k, v in labels.items()},
            acked_by=str(data.get("acked_by") or ""),
            acked_at=_parse(data.get("acked_at")),
            silenced_until=_parse(data.get("silenced_until")),
            silenced_by=str(data.get("silenced_by") or ""),
            comment=str(data.get("comment") or "")[:MAX_COMMENT],
        )

    def public(self, now: datetime) -> dict[str, Any]:
        """What ``mlctl alerts -o json`` shows of the note."""
        out: dict[str, Any] = {}
        if self.acked_by:
            out["acknowledged"] = {"by": self.acked_by, "at": _iso(self.acked_at)}
        if self.silenced(now):
            out["silenced"] = {"by": self.silenced_by, "until": _iso(self.silenced_until)}
        return out


def belongs(note: AlertNote) -> bool:
    """The note describes the labels it claims, and sits in their namespace."""
    return fingerprint(note.labels) == note.fingerprint and note.namespace == namespace_of(
        note.labels
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Silences:
    """The notes in force, as the monitor's loop consults them (immutable; swapped whole)."""

    notes: Mapping[str, AlertNote] = field(default_factory=dict)

    @classmethod
    def of(cls, notes: Iterable[AlertNote]) -> Silences:
        return cls({n.fingerprint: n for n in notes if belongs(n)})

    def note_for(self, alert: Alert) -> AlertNote | None:
        note = self.notes.get(alert.fingerprint)
        if note is None or note.namespace != namespace_of(alert.labels):
            return None
        return note

    def silenced(self, alert: Alert, now: datetime) -> bool:
        note = self.note_for(alert)
        return note is not None and note.silenced(now)

    def unsilenced(self, alerts: Iterable[Alert], now: datetime) -> list[Alert]:
        """The alerts that may be notified now."""
        return [a for a in alerts if not self.silenced(a, now)]

    def annotate(self, alert: Alert, now: datetime) -> dict[str, Any]:
        """The alert's JSON form with its note (``mlctl alerts``)."""
        out = alert.to_dict()
        note = self.note_for(alert)
        if note is not None:
            out.update(note.public(now))
        return out


NO_SILENCES = Silences()


# ---------------------------------------------------------------------- Nomad Variables


def read_all(client: NomadClient) -> list[AlertNote]:
    """Every note the token may read, in every namespace; what does not parse, or does
    not belong where it is stored (:func:`belongs`), is left out."""
    found = []
    for meta in client.variables.list(PREFIX + "/", "*"):
        namespace = meta.get("Namespace") or "default"
        var = client.variables.read(meta.get("Path", ""), namespace)
        raw = ((var or {}).get("Items") or {}).get(ITEM)
        if not raw:
            continue
        try:
            note = AlertNote.from_json(namespace, raw)
        except ValueError:
            continue
        if belongs(note):
            found.append(note)
    return found


def save(client: NomadClient, note: AlertNote) -> None:
    """Write ``note`` with check-and-set; a lost race is re-read and written again (the
    note is whole: the latest operator's word wins, never a half-merged one)."""
    if not belongs(note):
        raise InvalidInput(
            f"the note on alert {note.fingerprint} does not match the alert's labels, or "
            f"namespace {note.namespace} is not the alert's: the monitor would ignore it"
        )
    path = path_for(note.fingerprint)
    for _ in range(CAS_ATTEMPTS):
        current = client.variables.read(path, note.namespace)
        index = int((current or {}).get("ModifyIndex") or 0)
        try:
            client.variables.write(
                path, {ITEM: note.to_json()}, namespace=note.namespace, cas=index
            )
            return
        except VariableConflict:
            continue
    raise Conflict(
        f"the note on alert {note.fingerprint} kept changing while it was being written",
        hint="someone else is editing it; try again",
    )


def delete(client: NomadClient, namespace: str, fp: str) -> None:
    client.variables.delete(path_for(fp), namespace=namespace)
