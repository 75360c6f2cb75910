"""The deploy path: validate → package → render → parse → plan → upload → register.

Each step is a small function the commands compose (``job render`` stops after
rendering, ``plan`` after planning, ``deploy`` goes on to register and watch), so all
three see the very same job. Nothing is registered unless the plan says every group
can be placed (or the user forces it), and registration is check-and-set against the
job version the plan saw.
"""

from __future__ import annotations

import dataclasses
import getpass
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlctl.bundle.package import PackagedBundle, package_bundle
from mlctl.bundle.schema import BundleConfig
from mlctl.deploy.auth import JobAuth, job_auth
from mlctl.deploy.replicas import ReplicaChoice, choose_replicas
from mlctl.errors import MlctlError, NotFound, PlacementFailed
from mlctl.explain import Explanation, explain_failures
from mlctl.nomad.client import NomadClient
from mlctl.nomad.types import Job, PlanResponse, WriteResponse
from mlctl.render import (
    DeployOptions,
    UpdatePolicy,
    gpu_count,
    job_id_for,
    render_model_job,
)
from mlctl.settings import Settings

if TYPE_CHECKING:
    from mlctl.schedule.cli_hooks import ScheduledDeploy

#: Shown as the artifact source when no store is configured (render/plan only).
PLACEHOLDER_STORE = "https://artifact-store.invalid/models"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Overrides:
    """Deploy-time choices given as flags."""

    replicas: int | None = None
    gpus: int | None = None
    node_class: str | None = None
    canary: int | None = None
    public: bool = False
    """``--public``: the model answers anyone, even where Vault could check callers."""


@dataclass(frozen=True)
class Rendered:
    config: BundleConfig
    bundle: PackagedBundle
    artifact_url: str
    artifact_is_placeholder: bool
    hcl: str
    auth: JobAuth


@dataclass(frozen=True)
class Planned:
    job: Job
    plan: PlanResponse
    failures: list[Explanation]

    @property
    def job_id(self) -> str:
        return self.job["ID"]


@contextmanager
def packaged(bundle_dir: Path) -> Iterator[PackagedBundle]:
    """Validate and package into a private temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mlctl-package-") as tmp:
        yield package_bundle(bundle_dir, Path(tmp))


def deployed_by(settings: Settings) -> str:
    """Who is deploying, for ``mlctl history``: the logged-in user, else the local one."""
    from mlctl.credentials import read_login

    try:
        login = read_login(settings)
    except MlctlError:
        login = None
    if login is not None:
        return login.username
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def artifact_location(settings: Settings, bundle: PackagedBundle, *, require_store: bool) -> str:
    """The URL Nomad will fetch the bundle from (content-addressed, so known before upload).

    Without a configured store, render and plan use a placeholder URL; deploy refuses.
    """
    name = bundle.config.name
    if not settings.artifact_store:
        if require_store:
            from mlctl.errors import ConfigError

            raise ConfigError(
                "no artifact store configured: Nomad needs somewhere to fetch the bundle from",
                hint="set MLCTL_ARTIFACT_STORE (https://host/models or file:///shared/dir)",
            )
        return f"{PLACEHOLDER_STORE}/{name}/{bundle.sha256}.tar.gz"
    from mlctl.artifacts import store_from_settings

    return store_from_settings(settings).read_url(name=name, sha256=bundle.sha256)


def upload(settings: Settings, bundle: PackagedBundle, progress: Progress | None) -> str:
    """Upload the bundle (skipped when the store already holds it) and return its read URL."""
    from mlctl.artifacts import store_from_settings

    store = store_from_settings(settings)
    store.upload(bundle.path, name=bundle.config.name, sha256=bundle.sha256, progress=progress)
    return store.read_url(name=bundle.config.name, sha256=bundle.sha256)


def render(
    settings: Settings,
    bundle: PackagedBundle,
    overrides: Overrides,
    *,
    require_store: bool = False,
) -> Rendered:
    """The job's HCL for this bundle and these settings (nothing is uploaded)."""
    config = bundle.config
    auth = job_auth(
        config, settings, public=overrides.public, issuer_of=lambda: vault_issuer(settings)
    )
    url = artifact_location(settings, bundle, require_store=require_store)
    placeholder = not settings.artifact_store
    gpus = gpu_count(config, overrides.gpus)
    update = UpdatePolicy.from_bundle(config.update, canary=overrides.canary)
    if "min_healthy_time" not in config.update.model_fields_set:
        # The context's default (the local runtime: 1s), unless the bundle chose one.
        update = dataclasses.replace(update, min_healthy_time=settings.min_healthy_time)
    options = DeployOptions(
        namespace=settings.nomad_namespace,
        datacenters=settings.datacenters,
        artifact_url=url,
        artifact_sha256=bundle.sha256,
        runtime_image=settings.gpu_runtime_image if gpus else settings.runtime_image,
        node_pool=settings.node_pool,
        node_class=overrides.node_class,
        replicas=overrides.replicas,
        gpus=overrides.gpus,
        auth_env=auth.env,
        deployed_by=deployed_by(settings),
        update=update,
        task_driver=settings.task_driver,
        python=settings.raw_exec_python or sys.executable,
        check_interval=settings.check_interval,
    )
    return Rendered(config, bundle, url, placeholder, render_model_job(config, options), auth)


def vault_issuer(settings: Settings) -> str:
    """The ``iss`` Vault writes into identity tokens (its OpenID discovery document)."""
    from mlctl.errors import Unreachable
    from mlctl.vault.client import connect
    from mlctl.vault.identity import discovery

    try:
        return str(discovery(connect(settings, None))["issuer"])
    except Unreachable as exc:
        raise Unreachable(
            exc.message,
            hint="the model needs the token issuer: set serving.auth.issuer in mlctl.yaml, "
            "or deploy with --public",
        ) from None


def live_replicas(client: NomadClient, job_id: str) -> int | None:
    """The count of the running job, or None when it is not registered or is stopped."""
    try:
        job = client.jobs.read(job_id)
    except NotFound:
        return None
    if job.get("Stop"):
        return None
    return sum(int(group.get("Count") or 0) for group in job.get("TaskGroups") or [])


def replicas_for(
    client: NomadClient,
    config: BundleConfig,
    overrides: Overrides,
    *,
    reset: bool,
    scheduled: ScheduledDeploy | None = None,
) -> tuple[Overrides, ReplicaChoice]:
    """The overrides with the count to register decided (see :mod:`mlctl.deploy.replicas`)."""
    decided = overrides.replicas is not None or scheduled is not None
    live = None if decided else live_replicas(client, job_id_for(config))
    choice = choose_replicas(
        config.replicas, flag=overrides.replicas, live=live, reset=reset, scheduled=scheduled
    )
    return dataclasses.replace(overrides, replicas=choice.count), choice


def plan(client: NomadClient, hcl: str) -> Planned:
    """Parse the HCL on the server and dry-run the scheduler with a diff."""
    job = client.jobs.parse(hcl)
    response = client.jobs.plan(job, diff=True)
    failures = explain_failures(response.get("FailedTGAllocs"), job.get("TaskGroups"))
    return Planned(job, response, failures)


def refuse_unplaceable(planned: Planned) -> None:
    """Raise PlacementFailed with the plain-words reasons when a group cannot be placed."""
    if not planned.failures:
        return
    first = planned.failures[0]
    more = f" (and {len(planned.failures) - 1} more groups)" if len(planned.failures) > 1 else ""
    raise PlacementFailed(f"{planned.job_id}: {first.text}{more}", hint=first.hint or None)


def register(client: NomadClient, planned: Planned) -> WriteResponse:
    """Register the planned job, refusing if it changed since the plan."""
    return client.jobs.register(
        planned.job, enforce_index=int(planned.plan.get("JobModifyIndex") or 0)
    )
