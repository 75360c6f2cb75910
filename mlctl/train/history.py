"""Run history as small Nomad Variables at ``mlctl/train/<run id>``: who, when, dataset,
best candidate and score (seed 004's "history of all prior user activities").

Records are metadata only: results and models live in the artifact store, as the Nomad
docs advise (variables are for small secrets and settings, and finished jobs are
garbage-collected after a few hours, so the record outlives the jobs).
"""

from __future__ import annotations

import json
from typing import Any

from mlctl.nomad.client import NomadClient

PREFIX = "mlctl/train/"


def path(run_id: str) -> str:
    return f"{PREFIX}{run_id}"


def write(client: NomadClient, run_id: str, record: dict[str, Any]) -> None:
    """Items are strings: scalars as text, lists and maps as JSON."""
    items = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in record.items()
        if value is not None
    }
    client.variables.write(path(run_id), items)


def read(client: NomadClient, run_id: str) -> dict[str, Any] | None:
    var = client.variables.read(path(run_id))
    return None if var is None else decode(var.get("Items") or {})


def decode(items: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in items.items():
        try:
            out[key] = json.loads(value) if value[:1] in "[{" else value
        except json.JSONDecodeError:
            out[key] = value
    return out


def list_runs(client: NomadClient) -> list[dict[str, Any]]:
    """Every run record the token may read, newest first."""
    records = []
    for meta in client.variables.list(PREFIX):
        record = read(client, str(meta.get("Path", "")).removeprefix(PREFIX))
        if record is not None:
            records.append(record)
    return sorted(records, key=lambda r: str(r.get("started", "")), reverse=True)
