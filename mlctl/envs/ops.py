"""Environment operations: create (render → parse → plan → upload → token → register),
list, show, stop, url. Functions take a connected client and return plain data.

The submission path is the deploy pipeline's: Nomad parses and plans the job first, and
a group that cannot be placed stops everything (nothing uploaded, no token written,
nothing registered) with the reasons in plain words (:mod:`mlctl.explain`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlctl.deploy.inventory import is_healthy, is_running
from mlctl.deploy.pipeline import Planned, deployed_by, plan, refuse_unplaceable, register
from mlctl.envs import token
from mlctl.envs.load import LoadedSpec
from mlctl.envs.render import (
    ENV_JOB_PREFIX,
    ENV_META,
    EnvOptions,
    env_job_id,
    render_env_job,
)
from mlctl.errors import NotFound
from mlctl.nomad.client import NomadClient
from mlctl.nomad.types import Allocation, Job
from mlctl.render import JOB_ID_PREFIX
from mlctl.settings import Settings

APP_STORE_SUFFIX = "-app"


@dataclass(frozen=True)
class Prepared:
    loaded: LoadedSpec
    options: EnvOptions
    hcl: str

    @property
    def job_id(self) -> str:
        return env_job_id(self.loaded.spec.name, self.loaded.template)


def task_driver(settings: Settings, requested: str | None) -> str:
    """``--driver``, else the settings' choice (the local runtime's raw_exec), else docker."""
    return requested or getattr(settings, "task_driver", None) or "docker"


def raw_exec_python(settings: Settings) -> str:
    """The interpreter raw_exec tasks run: the setting, else the one running mlctl."""
    return getattr(settings, "raw_exec_python", None) or sys.executable


def options_for(
    settings: Settings, driver: str, app_url: str | None = None, app_sha256: str | None = None
) -> EnvOptions:
    return EnvOptions(
        namespace=settings.nomad_namespace,
        datacenters=settings.datacenters,
        driver=driver,
        python=raw_exec_python(settings),
        owner=deployed_by(settings),
        node_pool=settings.node_pool,
        app_url=app_url,
        app_sha256=app_sha256,
    )


def prepare(loaded: LoadedSpec, options: EnvOptions) -> Prepared:
    return Prepared(loaded, options, render_env_job(loaded, options))


def submit(
    client: NomadClient,
    prepared: Prepared,
    upload_app: Callable[[], None] | None = None,
) -> tuple[Planned, dict[str, Any]]:
    """Plan, then (only if placeable) upload the app, keep the token, and register."""
    planned = plan(client, prepared.hcl)
    refuse_unplaceable(planned)
    if upload_app is not None:
        upload_app()
    created = (
        token.ensure_token(client, prepared.job_id) if prepared.loaded.template.token else False
    )
    try:
        written = register(client, planned)
    except BaseException:
        if created:
            token.forget_token(client, prepared.job_id)
        raise
    return planned, dict(written)


# ------------------------------------------------------------------------ reading back


def env_job(client: NomadClient, name: str) -> Job:
    """The environment's job (an app's ``mlctl-<name>`` or a workspace's ``mlctl-env-<name>``)."""
    for job_id in (f"{ENV_JOB_PREFIX}{name}", f"{JOB_ID_PREFIX}{name}"):
        try:
            job = client.jobs.read(job_id)
        except NotFound:
            continue
        if (job.get("Meta") or {}).get(ENV_META) == name:
            return job
    raise NotFound(
        f"environment {name} does not exist in namespace {client.namespace}",
        hint="mlctl env list shows the environments (-n NS for another namespace)",
    )


def _status(job: Job, allocs: list[Allocation]) -> str:
    if job.get("Stop"):
        return "stopped"
    if job.get("Type") == "batch":
        states = {a.get("ClientStatus") for a in allocs if a.get("DesiredStatus") == "run"}
        for state in ("running", "pending", "failed", "complete"):
            if state in states:
                return state
        return str(job.get("Status"))
    healthy = sum(1 for a in allocs if is_healthy(a))
    return "healthy" if healthy else ("running" if any(map(is_running, allocs)) else "pending")


def env_row(client: NomadClient, job: Job) -> dict[str, Any]:
    meta = job.get("Meta") or {}
    allocs, _ = client.jobs.allocations(job["ID"])
    return {
        "name": meta.get(ENV_META),
        "template": meta.get("mlctl.template"),
        "owner": meta.get("mlctl.owner"),
        "job": job["ID"],
        "type": job.get("Type"),
        "status": _status(job, allocs),
        "endpoints": [
            f"http://{s.get('Address')}:{s.get('Port')}" for s in client.services.for_job(job)
        ],
    }


def list_envs(client: NomadClient) -> list[dict[str, Any]]:
    rows = []
    for stub in client.jobs.list_jobs(prefix=JOB_ID_PREFIX):
        if (stub.get("Meta") or {}).get(ENV_META):
            rows.append(env_row(client, client.jobs.read(stub["ID"])))
    return rows


def stop_env(client: NomadClient, name: str, purge: bool) -> dict[str, Any]:
    """Stop the job; with ``purge`` also forget it and delete its token."""
    job = env_job(client, name)
    response = client.jobs.stop(job["ID"], purge=purge)
    if purge and (job.get("Meta") or {}).get("mlctl.template", "").startswith("jupyter"):
        token.forget_token(client, job["ID"])
    return {"name": name, "job": job["ID"], "purged": purge, "eval_id": response.get("EvalID")}


def env_url(client: NomadClient, name: str, me: str) -> dict[str, Any]:
    """Where the environment answers; the token only for its owner (``me``)."""
    job = env_job(client, name)
    meta = job.get("Meta") or {}
    services = client.services.for_job(job)
    if not services:
        raise NotFound(
            f"environment {name} has no registered endpoint yet",
            hint=f"wait until it is healthy: mlctl env show {name}",
        )
    base = f"http://{services[0].get('Address')}:{services[0].get('Port')}"
    template = str(meta.get("mlctl.template", ""))
    result: dict[str, Any] = {
        "name": name,
        "url": base,
        "owner": meta.get("mlctl.owner"),
        "template": template,
    }
    if template.startswith("jupyter") and meta.get("mlctl.owner") == me:
        secret = token.read_token(client, job["ID"])
        if secret:
            # Jupyter's root redirects to the chosen interface, keeping the token.
            result.update(token=secret, url=f"{base}/?token={secret}")
    return result
