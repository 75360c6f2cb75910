"""Job write operations behind the HTTP routes: register, plan, revert, scale, stop.

Each raises ApiError with the status code and text a Nomad server answers with.
"""

from __future__ import annotations

import copy
from typing import Any

from . import jobspec
from .cluster import Cluster
from .diff import job_diff
from .lifecycle import reconcile
from .scheduler import Reconciler

JSON = dict[str, Any]


class ApiError(Exception):
    """An HTTP error answer: status code plus Nomad's plain-text body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def prepare(cluster: Cluster, raw: Any, namespace: str) -> JSON:
    """Check the JSON shape, apply defaults, validate; 400 on any problem."""
    if not isinstance(raw, dict):
        raise ApiError(400, "Job must be specified")
    problems: list[str] = []
    from . import jobschema

    jobschema.check(raw, jobschema.JOB, "Job", problems)
    if problems:
        raise ApiError(400, "Failed to decode request body: " + "; ".join(problems))
    job = jobspec.canonicalize(raw, namespace, cluster.region)
    try:
        jobspec.validate(job)
    except jobspec.JobInvalid as exc:
        raise ApiError(400, str(exc)) from None
    if job["Region"] != cluster.region:
        raise ApiError(500, "No path to region")
    if job["Namespace"] not in cluster.namespaces:
        raise ApiError(400, f'job "{job["ID"]}" is in nonexistent namespace "{job["Namespace"]}"')
    return job


def register(cluster: Cluster, raw: Any, namespace: str, body: JSON) -> JSON:
    """``POST /v1/jobs`` and ``POST /v1/job/:id``."""
    job = prepare(cluster, raw, namespace)
    existing = cluster.job(job["Namespace"], job["ID"])
    if body.get("EnforceIndex"):
        want = body.get("JobModifyIndex") or 0
        have = existing["JobModifyIndex"] if existing else 0
        if want != have:
            if want == 0:
                raise ApiError(500, f"Enforcing job modify index {want}: job already exists")
            raise ApiError(
                500,
                f"Enforcing job modify index {want}: "
                f"job exists with conflicting job modify index: {have}",
            )
    if existing is not None and existing["Type"] != job["Type"]:
        raise ApiError(500, f'cannot update job from type "{existing["Type"]}" to "{job["Type"]}"')
    return register_version(cluster, job, "job-register")


def register_version(cluster: Cluster, job: JSON, trigger: str) -> JSON:
    """Store a job (new version when its spec changed) and evaluate it."""
    key = (job["Namespace"], job["ID"])
    existing = cluster.jobs.get(key)
    versions = cluster.versions.get(key, [])
    changed = existing is None or jobspec.spec_of(existing) != jobspec.spec_of(job)
    if existing is not None and not changed:
        ev = cluster.new_eval(existing, trigger, status="pending")
        reconcile(cluster, existing, ev)
        return _register_response(ev, existing)
    index = cluster.store.bump("jobs", "job_versions", "job_summary")
    job["Version"] = max((v["Version"] for v in versions), default=-1) + 1
    job["CreateIndex"] = existing["CreateIndex"] if existing else index
    job["ModifyIndex"] = index
    job["JobModifyIndex"] = index
    job["SubmitTime"] = cluster.now_ns()
    job["Stable"] = False
    job["Status"] = existing["Status"] if existing else "pending"
    job["StatusDescription"] = ""
    cluster.store_job(job)
    ev = cluster.new_eval(job, trigger, status="pending")
    reconcile(cluster, job, ev)
    cluster.update_job_status(key)
    return _register_response(ev, job)


def _register_response(ev: JSON, job: JSON) -> JSON:
    return {
        "EvalID": ev["ID"],
        "EvalCreateIndex": ev["CreateIndex"],
        "JobModifyIndex": job["JobModifyIndex"],
        "Warnings": "",
        "Index": ev["ModifyIndex"],
        "LastContact": 0,
        "KnownLeader": True,
    }


def plan(cluster: Cluster, raw: Any, namespace: str, want_diff: bool, path_id: str) -> JSON:
    """``POST /v1/job/:id/plan``: what a register would do, without doing it."""
    job = prepare(cluster, raw, namespace)
    if job["ID"] != path_id:
        raise ApiError(400, "Job ID does not match")
    existing = cluster.job(job["Namespace"], job["ID"])
    if existing is not None:
        if jobspec.spec_of(existing) == jobspec.spec_of(job):
            job = copy.deepcopy(existing)
        else:
            job["Version"] = existing["Version"] + 1
            job["CreateIndex"] = existing["CreateIndex"]
            job["JobModifyIndex"] = existing["JobModifyIndex"]
    else:
        job.update(
            {
                "Version": 0,
                "CreateIndex": 0,
                "JobModifyIndex": 0,
                "Stable": False,
                "Status": "pending",
            }
        )
    outcome = Reconciler(cluster, job, "", dry_run=True).run()
    index = existing["JobModifyIndex"] if existing else 0
    return {
        "Index": index,
        "JobModifyIndex": index,
        "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
        "Warnings": "",
        "Diff": job_diff(existing, job) if want_diff else None,
        "Annotations": {
            "DesiredTGUpdates": {name: g.desired_updates() for name, g in outcome.groups.items()},
            "PreemptedAllocs": None,
        },
        "FailedTGAllocs": outcome.failed_tg_allocs(),
        "CreatedEvals": None,
    }


def deregister(cluster: Cluster, namespace: str, job_id: str, purge: bool) -> JSON:
    """``DELETE /v1/job/:id``: stop (new version with Stop) or purge the job."""
    job = cluster.job(namespace, job_id)
    if job is None:
        raise ApiError(404, "job not found")
    key = (namespace, job_id)
    for dep in cluster.deployments.values():
        if (dep["Namespace"], dep["JobID"]) == key and dep["Status"] in (
            "running",
            "paused",
            "pending",
        ):
            dep["Status"] = "cancelled"
            dep["StatusDescription"] = "Cancelled because job is stopped"
            cluster.touch_deployment(dep)
    if purge:
        stopped = copy.deepcopy(job)
        stopped["Stop"] = True
        ev = cluster.new_eval(stopped, "job-deregister", status="pending")
        Reconciler(cluster, stopped, ev["ID"]).run()
        del cluster.jobs[key]
        cluster.versions.pop(key, None)
        index = cluster.store.bump("jobs", "job_versions", "job_summary")
        ev["Status"] = "complete"
        cluster.touch_eval(ev)
        cluster.emit("Job", "JobDeregistered", job_id, namespace, {"Job": stopped}, [job_id])
        return {
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "JobModifyIndex": index,
            "VolumeEvalID": "",
            "VolumeEvalIndex": 0,
            "Index": index,
        }
    if not job["Stop"]:
        stopped = copy.deepcopy(job)
        stopped["Stop"] = True
        register_version(cluster, stopped, "job-deregister")
        job = cluster.jobs[key]
    ev = max(
        (e for e in cluster.evals.values() if (e["Namespace"], e["JobID"]) == key),
        key=lambda e: e["CreateIndex"],
    )
    return {
        "EvalID": ev["ID"],
        "EvalCreateIndex": ev["CreateIndex"],
        "JobModifyIndex": job["JobModifyIndex"],
        "VolumeEvalID": "",
        "VolumeEvalIndex": 0,
        "Index": ev["ModifyIndex"],
    }


def revert(cluster: Cluster, namespace: str, job_id: str, body: JSON) -> JSON:
    """``POST /v1/job/:id/revert``."""
    job = cluster.job(namespace, job_id)
    if job is None:
        raise ApiError(404, "job not found")
    version = body.get("JobVersion")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ApiError(400, "JobVersion must be an integer")
    prior = body.get("EnforcePriorVersion")
    if prior is not None and prior != job["Version"]:
        raise ApiError(500, f"current job has version {job['Version']}; enforcing version {prior}")
    if version == job["Version"]:
        raise ApiError(500, "can't revert to current version")
    target = cluster.job_version(namespace, job_id, version)
    if target is None:
        raise ApiError(
            500, f"job {job_id!r} in namespace {namespace!r} at version {version} not found"
        )
    return register_version(cluster, copy.deepcopy(target), "job-register")


def scale(cluster: Cluster, namespace: str, job_id: str, body: JSON) -> JSON:
    """``POST /v1/job/:id/scale``; blocked while a deployment is active, as in Nomad."""
    job = cluster.job(namespace, job_id)
    if job is None:
        raise ApiError(404, "job not found")
    group_name = (body.get("Target") or {}).get("Group")
    if not group_name:
        raise ApiError(400, "missing task group name for scaling action")
    group = next((g for g in job["TaskGroups"] if g["Name"] == group_name), None)
    if group is None:
        raise ApiError(
            400, f"task group {group_name!r} specified for scaling does not exist in job"
        )
    count = body.get("Count")
    if count is None and not body.get("Error"):
        raise ApiError(400, "scaling action must specify a count, an error, or both")
    if count is not None:
        if not isinstance(count, int) or isinstance(count, bool):
            raise ApiError(400, "Count must be an integer")
        if count < 0:
            raise ApiError(400, "scaling action count can't be negative")
        policy = group.get("Scaling") or {}
        if policy.get("Max") is not None and count > policy["Max"]:
            raise ApiError(
                400,
                f"group count was greater than scaling policy maximum: {count} > {policy['Max']}",
            )
        if policy.get("Min") is not None and count < policy["Min"]:
            raise ApiError(
                400, f"group count was less than scaling policy minimum: {count} < {policy['Min']}"
            )
        dep = cluster.active_deployment((namespace, job_id))
        if dep is not None and dep["JobVersion"] >= job["Version"]:
            raise ApiError(400, "job scaling blocked due to active deployment")
    previous = group["Count"]
    response: JSON
    if count is not None and not job["Stop"]:
        scaled = copy.deepcopy(job)
        next(g for g in scaled["TaskGroups"] if g["Name"] == group_name)["Count"] = count
        response = register_version(cluster, scaled, "job-scaling")
    else:
        response = {
            "EvalID": "",
            "EvalCreateIndex": 0,
            "JobModifyIndex": job["JobModifyIndex"],
            "Warnings": "",
            "Index": cluster.store.index,
        }
    index = cluster.store.bump("scaling_event")
    event = {
        "Count": count,
        "PreviousCount": previous,
        "Message": body.get("Message") or "",
        "Error": bool(body.get("Error")),
        "Meta": body.get("Meta"),
        "EvalID": response["EvalID"] or None,
        "Time": cluster.now_ns(),
        "CreateIndex": index,
    }
    cluster.scaling_events.setdefault((namespace, job_id), {}).setdefault(group_name, []).insert(
        0, event
    )
    return response


def scale_status(cluster: Cluster, namespace: str, job_id: str) -> JSON:
    """``GET /v1/job/:id/scale``."""
    job = cluster.job(namespace, job_id)
    if job is None:
        raise ApiError(404, "job not found")
    dep = cluster.latest_deployment((namespace, job_id))
    groups = {}
    for group in job["TaskGroups"]:
        allocs = [
            a for a in cluster.job_allocs((namespace, job_id)) if a.task_group == group["Name"]
        ]
        state = (
            (dep or {}).get("TaskGroups", {}).get(group["Name"])
            if dep and dep["Status"] == "running"
            else None
        )
        groups[group["Name"]] = {
            "Desired": group["Count"],
            "Placed": sum(1 for a in allocs if a.live),
            "Running": sum(
                1 for a in allocs if a.client_status == "running" and a.desired_status == "run"
            ),
            "Healthy": state["HealthyAllocs"] if state else 0,
            "Unhealthy": state["UnhealthyAllocs"] if state else 0,
            "Events": cluster.scaling_events.get((namespace, job_id), {}).get(group["Name"])
            or None,
        }
    return {
        "JobID": job_id,
        "Namespace": namespace,
        "JobStopped": job["Stop"],
        "JobCreateIndex": job["CreateIndex"],
        "JobModifyIndex": job["JobModifyIndex"],
        "TaskGroups": groups,
    }
