"""Operating a deployed model: status, scale, stop, restart, rollback, promote, history, logs.

Each function takes a connected client and a model name and returns plain data for
the CLI (or the TUI) to show. A model name maps to its job with
:func:`mlctl.render.job_id_for_name`; a name that is not a valid model name is refused
before any request is made.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from mlctl.bundle.schema import NAME_PATTERN
from mlctl.deploy.inventory import alloc_row, is_model, is_running, model_row
from mlctl.deploy.watch import explain_blocked
from mlctl.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from mlctl.nomad.client import NomadClient
from mlctl.nomad.types import Allocation, Job, WriteResponse
from mlctl.render import GROUP_NAME, TASK_NAME, job_id_for_name


def job_id(model: str) -> str:
    """The job of a model name given on the command line, after checking the name."""
    if not re.fullmatch(NAME_PATTERN, model):
        raise InvalidInput(
            f"model name {model!r} is not valid",
            hint="model names are lowercase letters, digits and '-' (as in mlctl.yaml)",
        )
    return job_id_for_name(model)


def read_model(client: NomadClient, model: str) -> Job:
    """The model's job, or NotFound saying where we looked."""
    try:
        return client.jobs.read(job_id(model))
    except NotFound as error:
        raise NotFound(
            f"model {model} is not deployed in namespace {client.namespace}",
            hint="mlctl status lists the deployed models (-n NS for another namespace)",
        ) from error


def _group(job: Job) -> str:
    names = [g.get("Name", "") for g in job.get("TaskGroups") or []]
    return GROUP_NAME if GROUP_NAME in names or not names else names[0]


def require_namespace(client: NomadClient) -> None:
    """NotFound when the client's namespace does not exist (a typo looks like "no models").

    Reading a namespace needs any capability in it; a token that may not read it simply
    gets the benefit of the doubt, since its own list requests will say more.
    """
    try:
        client.transport.json("get", "namespace", client.namespace)
    except NotFound:
        raise NotFound(
            f"namespace {client.namespace} does not exist in Nomad at {client.address}",
            hint="mlctl -n '*' status lists the models of every namespace",
        ) from None
    except PermissionDenied:
        return


def model_namespaces(client: NomadClient) -> list[str]:
    """Namespaces holding at least one model, for a client in the ``*`` namespace."""
    stubs = client.jobs.list_jobs(prefix=job_id_for_name(""))
    return sorted({str(s.get("Namespace") or "default") for s in stubs if is_model(s)})


def list_models(client: NomadClient) -> list[dict[str, Any]]:
    """A row per deployed model in the namespace."""
    rows = []
    for stub in client.jobs.list_jobs(prefix=job_id_for_name("")):
        if not is_model(stub):
            continue
        job = client.jobs.read(stub["ID"])
        allocs, _ = client.jobs.allocations(stub["ID"])
        rows.append(model_row(job, allocs, client.services.for_job(job)))
    return rows


def model_detail(client: NomadClient, model: str) -> dict[str, Any]:
    """One model: its row, latest deployment and allocations (with their GPUs)."""
    job = read_model(client, model)
    allocs, _ = client.jobs.allocations(job["ID"])
    live = [a for a in allocs if a.get("DesiredStatus") == "run"]
    full = [client.allocations.read(a.get("ID", "")) for a in live]
    deployment, _ = client.jobs.latest_deployment(job["ID"])
    return {
        "model": model_row(job, allocs, client.services.for_job(job)),
        "deployment": {
            "id": deployment.get("ID"),
            "job_version": deployment.get("JobVersion"),
            "status": deployment.get("Status"),
            "description": deployment.get("StatusDescription"),
        }
        if deployment
        else None,
        "allocations": [alloc_row(a) for a in full],
        "placement_failures": [e.text for e in explain_blocked(client, job["ID"])],
    }


def scale(client: NomadClient, model: str, count: int, by: str) -> WriteResponse:
    if count < 0:
        raise InvalidInput(f"replicas: {count} must be 0 or more")
    job = read_model(client, model)
    return client.jobs.scale(job["ID"], _group(job), count, message=f"mlctl scale by {by}")


def stop(client: NomadClient, model: str, purge: bool) -> WriteResponse:
    job = read_model(client, model)
    return client.jobs.stop(job["ID"], purge=purge)


def restart(client: NomadClient, model: str) -> list[str]:
    """Restart every running allocation in place; the restarted allocation IDs."""
    job = read_model(client, model)
    allocs, _ = client.jobs.allocations(job["ID"])
    running = [a.get("ID", "") for a in allocs if is_running(a)]
    if not running:
        raise Conflict(f"model {model} has no running allocations to restart")
    for alloc_id in running:
        client.allocations.restart(alloc_id)
    return running


def rollback_target(versions: list[Job], wanted: int | None) -> tuple[int, int]:
    """(current version, version to go back to): ``wanted``, else the last stable one."""
    if not versions:
        raise NotFound("the job has no versions")
    current = int(versions[0].get("Version", 0))
    known = {int(v.get("Version", -1)) for v in versions}
    if wanted is not None:
        if wanted not in known:
            raise NotFound(
                f"version {wanted} is not retained",
                hint="available: " + ", ".join(str(v) for v in sorted(known)),
            )
        if wanted == current:
            raise Conflict(f"version {wanted} is already the current version")
        return current, wanted
    for version in versions[1:]:
        if version.get("Stable"):
            return current, int(version.get("Version", 0))
    raise Conflict(
        "there is no earlier stable version to roll back to",
        hint="pick one with --version (mlctl history lists them)",
    )


def rollback(client: NomadClient, model: str, version: int | None) -> dict[str, Any]:
    job = read_model(client, model)
    current, target = rollback_target(client.jobs.versions(job["ID"]), version)
    response = client.jobs.revert(job["ID"], target, prior_version=current)
    return {"model": model, "from_version": current, "to_version": target, **response}


def promote(client: NomadClient, model: str) -> dict[str, Any]:
    job = read_model(client, model)
    deployment, _ = client.jobs.latest_deployment(job["ID"])
    groups = (deployment or {}).get("TaskGroups") or {}
    waiting = any(g.get("DesiredCanaries") and not g.get("Promoted") for g in groups.values())
    if not deployment or deployment.get("Status") != "running" or not waiting:
        raise Conflict(
            f"no deployment of {model} is waiting for its canaries to be promoted",
            hint="mlctl status " + model + " shows the latest deployment",
        )
    response = client.deployments.promote(deployment["ID"])
    return {"model": model, "deployment_id": deployment["ID"], **response}


def _submitted(nanoseconds: int | None) -> str | None:
    if not nanoseconds:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def history(client: NomadClient, model: str) -> list[dict[str, Any]]:
    """Every retained version: when, which bundle, who, and whether Nomad found it stable."""
    job = read_model(client, model)
    versions = client.jobs.versions(job["ID"])
    current = int(job.get("Version", -1))
    rows = []
    for version in versions:
        meta = version.get("Meta") or {}
        number = int(version.get("Version", 0))
        rows.append(
            {
                "version": number,
                "current": number == current,
                "submitted": _submitted(version.get("SubmitTime")),
                "model_version": meta.get("mlctl.version"),
                "bundle_sha256": meta.get("mlctl.bundle_sha256"),
                "deployed_by": meta.get("mlctl.deployed_by"),
                "stable": bool(version.get("Stable")),
                "replicas": sum(int(g.get("Count") or 0) for g in version.get("TaskGroups") or []),
            }
        )
    return rows


def choose_alloc(allocs: list[Allocation], prefix: str | None) -> Allocation:
    """The allocation whose logs to show: by ID prefix, else the newest running one."""
    if prefix:
        matches = [a for a in allocs if a.get("ID", "").startswith(prefix)]
        if not matches:
            raise NotFound(f"no allocation of this model starts with {prefix!r}")
        if len(matches) > 1:
            raise InvalidInput(f"allocation prefix {prefix!r} is ambiguous; give more characters")
        return matches[0]
    if not allocs:
        raise NotFound("the model has no allocations yet")
    ordered = sorted(allocs, key=lambda a: int(a.get("CreateTime") or 0), reverse=True)
    return next((a for a in ordered if is_running(a)), ordered[0])


def log_task(job: Job) -> str:
    for group in job.get("TaskGroups") or []:
        names = [t.get("Name", "") for t in group.get("Tasks") or []]
        if TASK_NAME in names:
            return TASK_NAME
        if names:
            return names[0]
    return TASK_NAME
