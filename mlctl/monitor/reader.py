"""REST reads the follower needs: full listings (the resync snapshot and the polling
fallback), single jobs, and service registrations; every list can be a blocking query.

All calls go through :class:`mlctl.nomad.client.NomadClient`'s transport, so TLS,
token, region and error mapping are the same as everywhere else in mlctl.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from mlctl.errors import MlctlError, NotFound
from mlctl.monitor import convert
from mlctl.monitor.convert import JobRecord
from mlctl.monitor.views import EndpointView, ModelKey
from mlctl.nomad.client import NomadClient

JSON = dict[str, Any]

#: kind -> (path parts, query) of its listing across every namespace the token reads.
LISTINGS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "allocs": (("allocations",), {"namespace": "*", "resources": "true"}),
    "deployments": (("deployments",), {"namespace": "*"}),
    "evals": (("evaluations",), {"namespace": "*"}),
    "nodes": (("nodes",), {"resources": "true"}),
    "jobs": (("jobs",), {"namespace": "*"}),
}
#: Full jobs fetched in parallel during a resync.
JOB_READERS = 4


def http_answer(error: BaseException) -> tuple[int, str] | None:
    """The HTTP status and body behind a mapped error, when Nomad answered at all."""
    seen: BaseException | None = error
    while seen is not None:
        payload = getattr(seen, "nomad_resp", None)
        if isinstance(payload, requests.Response):
            return payload.status_code, payload.text
        seen = seen.__cause__
    return None


def fetch_list(
    client: NomadClient, kind: str, index: int = 0, wait: float = 30.0
) -> tuple[list[JSON], int]:
    """The listing of ``kind``; with ``index`` it blocks until something changed."""
    parts, params = LISTINGS[kind]
    data, new_index = client.transport.blocking(*parts, index=index, wait=wait, params=params)
    return list(data or []), new_index


def fetch_job(client: NomadClient, namespace: str, job_id: str) -> JSON | None:
    """The full job, or None when Nomad no longer has it."""
    try:
        data = client.transport.json("get", "job", job_id, params={"namespace": namespace})
    except NotFound:
        return None
    return dict(data) if isinstance(data, dict) else None


def fetch_jobs(
    client: NomadClient,
    known: Callable[[ModelKey], int | None],
    index: int = 0,
    wait: float = 30.0,
) -> tuple[list[JSON], int]:
    """Every job: full JSON for those changed since ``known(key)``, the stub otherwise
    (a stub not newer than the Store is ignored by it, but marks the job present)."""
    stubs, new_index = fetch_list(client, "jobs", index, wait)
    changed = [
        s
        for s in stubs
        if (known((s.get("Namespace") or "default", s.get("ID") or "")) or -1)
        < int(s.get("ModifyIndex") or 0)
    ]
    unchanged = [s for s in stubs if s not in changed]

    def read(stub: JSON) -> JSON | None:
        return fetch_job(client, str(stub.get("Namespace") or "default"), str(stub.get("ID")))

    with ThreadPoolExecutor(max_workers=JOB_READERS, thread_name_prefix="monitor-jobs") as pool:
        full = [job for job in pool.map(read, changed) if job is not None]
    return full + unchanged, new_index


def fetch_endpoints(client: NomadClient, job: JobRecord) -> list[EndpointView]:
    """Where the job's allocations answer: its Nomad-provider service registrations."""
    out: list[EndpointView] = []
    for name in job.services:
        regs = client.transport.json(
            "get", "service", name, params={"namespace": job.namespace}
        )
        out.extend(convert.endpoint_view(r) for r in regs or [] if r.get("JobID") == job.id)
    return out


def describe(error: BaseException) -> str:
    """One line for the live log (MlctlError messages already name the call)."""
    if isinstance(error, MlctlError):
        return error.one_line()
    return f"{type(error).__name__}: {error}"
