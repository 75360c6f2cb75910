"""``POST /v1/job/:id/dispatch``: a parameterized job's instances, as Nomad makes them.

The parent job (``parameterized { payload, meta_required, meta_optional }``, a batch
job) is never placed itself; each dispatch registers a child job
``<parent>/dispatch-<unix time>-<8 hex>`` with ``ParentID``, ``Dispatched = true``,
the parent's meta merged with the dispatch's, and the payload, which the task's
``dispatch_payload { file }`` writes into ``local/``.  Validation follows Nomad's
messages; an ``idempotency_token`` already used by a live child returns that child.
"""

from __future__ import annotations

import base64
import binascii
import copy
import secrets
import time
from typing import Any

from .cluster import Cluster
from .jobops import ApiError, register_version

JSON = dict[str, Any]
MAX_PAYLOAD = 16 * 1024


def is_parameterized(job: JSON) -> bool:
    """A parent that only dispatches (its children carry ``Dispatched``)."""
    return bool(job.get("ParameterizedJob")) and not job.get("Dispatched")


def _payload(raw: Any) -> bytes | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise ApiError(400, "Payload must be a base64 encoded string")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "Payload is not valid base64") from None


def _check(parent: JSON, payload: bytes | None, meta: dict[str, str]) -> None:
    spec = parent["ParameterizedJob"] or {}
    rule = spec.get("Payload") or "optional"
    if payload is not None and len(payload) > MAX_PAYLOAD:
        raise ApiError(400, f"Payload exceeds maximum size; {len(payload)} > {MAX_PAYLOAD}")
    if rule == "forbidden" and payload:
        raise ApiError(400, "Payload is not allowed")
    if rule == "required" and not payload:
        raise ApiError(400, "Payload is not provided")
    required = list(spec.get("MetaRequired") or [])
    allowed = set(required) | set(spec.get("MetaOptional") or [])
    missing = [k for k in required if k not in meta]
    if missing:
        raise ApiError(400, f"Dispatch did not provide required meta keys: [{' '.join(missing)}]")
    unexpected = sorted(k for k in meta if k not in allowed)
    if unexpected:
        raise ApiError(400, f"Dispatch provided unexpected meta keys: [{' '.join(unexpected)}]")


def dispatch(
    cluster: Cluster, namespace: str, job_id: str, body: JSON, idempotency_token: str
) -> JSON:
    parent = cluster.job(namespace, job_id)
    if parent is None:
        raise ApiError(404, "job not found")
    if not is_parameterized(parent):
        raise ApiError(400, f'Specified job "{job_id}" is not a parameterized job')
    if parent["Stop"]:
        raise ApiError(400, f'Specified job "{job_id}" is stopped')
    meta = body.get("Meta") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ApiError(400, "Meta must be a map of strings")
    payload = _payload(body.get("Payload"))
    _check(parent, payload, meta)
    if idempotency_token:
        for (ns, _), job in cluster.jobs.items():
            if (
                ns == namespace
                and job.get("ParentID") == job_id
                and job.get("DispatchIdempotencyToken") == idempotency_token
                and job["Status"] != "dead"
            ):
                return {
                    "Index": cluster.store.index,
                    "JobCreateIndex": job["CreateIndex"],
                    "EvalCreateIndex": 0,
                    "EvalID": "",
                    "DispatchedJobID": job["ID"],
                }
    prefix = body.get("IdPrefixTemplate") or ""
    child = copy.deepcopy(parent)
    suffix = f"{int(time.time())}-{secrets.token_hex(4)}"
    child["ID"] = f"{job_id}/dispatch-{prefix + '-' if prefix else ''}{suffix}"
    child["Name"] = child["ID"]
    child["ParentID"] = job_id
    child["Dispatched"] = True
    child["DispatchIdempotencyToken"] = idempotency_token or ""
    child["Meta"] = {**(parent.get("Meta") or {}), **meta} or None
    child["Payload"] = base64.b64encode(payload).decode() if payload else None
    child["Status"] = "pending"
    response = register_version(cluster, child, "job-register")
    created = cluster.jobs[(namespace, child["ID"])]
    return {
        "Index": response["Index"],
        "JobCreateIndex": created["CreateIndex"],
        "EvalCreateIndex": response["EvalCreateIndex"],
        "EvalID": response["EvalID"],
        "DispatchedJobID": child["ID"],
    }


def children(cluster: Cluster, namespace: str, job_id: str) -> JSON:
    """The parent's ``JobSummary.Children``: its dispatched jobs by status."""
    counts = {"Pending": 0, "Running": 0, "Dead": 0}
    for (ns, _), job in cluster.jobs.items():
        if ns == namespace and job.get("ParentID") == job_id:
            counts[{"running": "Running", "dead": "Dead"}.get(job["Status"], "Pending")] += 1
    return counts
