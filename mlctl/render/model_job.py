"""A bundle's config plus deploy-time choices become the variables of the model job.

:func:`template_variables` is pure and is the only place that decides *what* the job
says (counts, GPUs, meta, images); the template only decides *how* it is written.
``jobspecs/variables.yaml`` documents every variable it returns, and a test keeps the
two in step.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlctl.bundle.schema import (
    DURATION_PATTERN,
    SHA256_PATTERN,
    BundleConfig,
    Update,
    duration_ns,
)
from mlctl.errors import InvalidInput
from mlctl.render.environment import render_template

MODEL_JOB_TEMPLATE = "model-service.nomad.hcl.j2"
JOB_ID_PREFIX = "mlctl-"
GROUP_NAME = "model"
"""The task group of every model job (deployment status is reported per group)."""
TASK_NAME = "server"
"""The task that runs ``mlctl serve``; logs and task events are read from it."""
BUNDLE_DIR = "local/bundle"
"""Where Nomad's artifact block unpacks the bundle, relative to the task directory;
the docker driver mounts the task's ``local/`` at ``/local`` inside the container."""
READINESS_PATH = "/readyz"
TASK_DRIVERS = ("docker", "raw_exec")
"""How the task runs mlctl: the runtime image (docker, the default on clusters) or the
host's Python interpreter (raw_exec: ``mlctl local`` and Nomad clients without Docker)."""
NVIDIA_DOCKER_RUNTIME = "nvidia"
"""Docker runtime for GPU tasks. Nomad's docker driver already switches to its
``nvidia_runtime`` (default ``nvidia``) when a task gets a GPU; naming it here makes the
job self-describing, and must match that client setting or the task fails to start."""
MANAGED_BY = "mlctl"

_DURATION = re.compile(DURATION_PATTERN)
_META_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
RESERVED_META_PREFIX = "mlctl."


def job_id_for(config: BundleConfig) -> str:
    """The Nomad job ID of a model: ``mlctl-<name>``, e.g. ``mlctl-iris``.

    The prefix keeps model jobs apart from anything else in the namespace; the name is a
    DNS label (schema), so the ID is always valid. Commands that take a MODEL argument
    use :func:`job_id_for_name` to get from the name to the job.
    """
    return job_id_for_name(config.name)


def job_id_for_name(name: str) -> str:
    """``mlctl-<name>`` for a model name given on the command line."""
    return f"{JOB_ID_PREFIX}{name}"


@dataclass(frozen=True)
class UpdatePolicy:
    """The group's ``update`` block: how Nomad rolls out a new version.

    Defaults are Nomad's own except ``auto_revert``, which mlctl always turns on: a
    version whose allocations never become healthy is rolled back by Nomad itself.
    """

    max_parallel: int = 1
    canary: int = 0
    auto_promote: bool = False
    min_healthy_time: str = "10s"
    healthy_deadline: str = "5m"
    progress_deadline: str = "10m"

    def __post_init__(self) -> None:
        if self.max_parallel < 1:
            raise InvalidInput(f"update: max_parallel: {self.max_parallel} must be 1 or more")
        if self.canary < 0:
            raise InvalidInput(f"update: canary: {self.canary} must be 0 or more")
        for name in ("min_healthy_time", "healthy_deadline", "progress_deadline"):
            value = getattr(self, name)
            if not _DURATION.match(value):
                raise InvalidInput(
                    f"update: {name}: {value!r} is not a duration", hint="use e.g. 30s, 5m, 1h"
                )
        if duration_ns(self.progress_deadline) <= duration_ns(self.healthy_deadline):
            raise InvalidInput(
                f"update: progress_deadline {self.progress_deadline} must be longer than "
                f"healthy_deadline {self.healthy_deadline}"
            )
        if self.auto_promote and self.canary == 0:
            raise InvalidInput("update: auto_promote needs canary of 1 or more")

    @classmethod
    def from_bundle(cls, section: Update, canary: int | None = None) -> UpdatePolicy:
        """The bundle's ``update:`` section, with ``--canary`` replacing its canary count."""
        chosen = section.canary if canary is None else canary
        return cls(
            max_parallel=section.max_parallel,
            canary=chosen,
            auto_promote=section.auto_promote and chosen > 0,
            min_healthy_time=section.min_healthy_time,
            healthy_deadline=section.healthy_deadline,
            progress_deadline=section.progress_deadline,
        )


@dataclass(frozen=True)
class DeployOptions:
    """Everything about a deployment that is not in the bundle's ``mlctl.yaml``."""

    namespace: str
    datacenters: tuple[str, ...]
    artifact_url: str
    """Where Nomad's artifact block fetches the bundle ``.tar.gz`` (no credentials)."""
    artifact_sha256: str
    runtime_image: str
    node_pool: str | None = None
    node_class: str | None = None
    replicas: int | None = None
    """Overrides ``replicas`` of the bundle config."""
    gpus: int | None = None
    """Overrides ``resources.gpu.count``; 0 forces a CPU deployment."""
    deployed_by: str | None = None
    """Who deployed (goes into the job's meta, so ``mlctl history`` can show it)."""
    auth_env: Mapping[str, str] = field(default_factory=dict)
    """Who may call the model: the ``MLCTL_AUTH_*`` task variables (mlctl.deploy.auth)."""
    extra_meta: Mapping[str, str] = field(default_factory=dict)
    update: UpdatePolicy | None = None
    """Rollout policy: canaries, auto-promote, deadlines; the bundle's ``update:`` if None."""
    task_driver: str = "docker"
    """``docker`` or ``raw_exec`` (see :data:`TASK_DRIVERS`)."""
    python: str | None = None
    """raw_exec only: the interpreter (with mlctl installed) that runs ``python -m mlctl``."""
    check_interval: str = "10s"
    """How often Nomad runs the readiness check (a short one makes a local deploy quick)."""

    def __post_init__(self) -> None:
        if self.task_driver not in TASK_DRIVERS:
            raise InvalidInput(
                f"task driver {self.task_driver!r} is not one of {', '.join(TASK_DRIVERS)}"
            )
        if self.task_driver == "raw_exec" and not self.python:
            raise InvalidInput("the raw_exec task driver needs the path of a Python interpreter")
        if not _DURATION.match(self.check_interval):
            raise InvalidInput(
                f"check interval {self.check_interval!r} is not a duration",
                hint="use e.g. 1s, 10s",
            )
        if not self.datacenters:
            raise InvalidInput("datacenters: at least one datacenter is needed")
        if not re.fullmatch(SHA256_PATTERN, self.artifact_sha256):
            raise InvalidInput(
                f"artifact sha256 {self.artifact_sha256!r} is not 64 lowercase hex digits"
            )
        if not self.artifact_url:
            raise InvalidInput("artifact URL is empty")
        if self.replicas is not None and not 0 <= self.replicas <= 1000:
            raise InvalidInput(f"--replicas: {self.replicas} must be between 0 and 1000")
        if self.gpus is not None and not 0 <= self.gpus <= 16:
            raise InvalidInput(f"--gpus: {self.gpus} must be between 0 and 16")
        for key in self.extra_meta:
            if not _META_KEY.match(key):
                raise InvalidInput(
                    f"meta key {key!r}: use letters, digits, '.', '_' and '-' (1-128 characters)"
                )
            if key.startswith(RESERVED_META_PREFIX) or key == "managed-by":
                raise InvalidInput(f"meta key {key!r} is reserved for mlctl")


def gpu_count(config: BundleConfig, gpus: int | None = None) -> int:
    """GPUs per replica: the ``--gpus`` override, else the bundle's request, else 0.

    Callers use it to pick the CUDA or the CPU runtime image.
    """
    if gpus is not None:
        return gpus
    return config.resources.gpu.count if config.resources.gpu else 0


def _gpu_variables(config: BundleConfig, count: int) -> dict[str, Any] | None:
    if count == 0:
        return None
    request = config.resources.gpu
    return {
        "count": count,
        "memory_mib": request.memory if request else None,
        "model": request.model if request else None,
    }


def _meta(config: BundleConfig, options: DeployOptions) -> dict[str, str]:
    meta = {
        "managed-by": MANAGED_BY,
        "mlctl.model": config.name,
        "mlctl.version": config.version,
        "mlctl.bundle_sha256": options.artifact_sha256,
    }
    if options.deployed_by:
        meta["mlctl.deployed_by"] = options.deployed_by
    if config.alerts is not None:  # what the bundle wrote; the monitor reads it from the job
        meta["mlctl.alerts"] = json.dumps(
            config.alerts.model_dump(mode="json", by_alias=True, exclude_unset=True),
            separators=(",", ":"),
            sort_keys=True,
        )
    meta.update(options.extra_meta)
    return meta


#: Time the task gets after its drain before Nomad kills it (flushing logs, exiting).
KILL_TIMEOUT_MARGIN_SECONDS = 5


def kill_timeout_for(config: BundleConfig) -> str:
    """The task's kill_timeout: longer than the server's drain, so SIGKILL never cuts it."""
    seconds = math.ceil(config.serving.drain_timeout_s) + KILL_TIMEOUT_MARGIN_SECONDS
    return f"{seconds}s"


def template_variables(config: BundleConfig, options: DeployOptions) -> dict[str, Any]:
    """The variables of ``model-service.nomad.hcl.j2`` (see ``jobspecs/variables.yaml``)."""
    gpus = gpu_count(config, options.gpus)
    update = options.update or UpdatePolicy.from_bundle(config.update)
    return {
        "job_id": job_id_for(config),
        "namespace": options.namespace,
        "datacenters": list(options.datacenters),
        "node_pool": options.node_pool,
        "node_class": options.node_class,
        "meta": _meta(config, options),
        "group_name": GROUP_NAME,
        "task_name": TASK_NAME,
        "count": options.replicas if options.replicas is not None else config.replicas,
        "port": config.serving.port,
        "kill_timeout": kill_timeout_for(config),
        "service": {
            "name": config.name,
            "tags": ["mlctl", f"model={config.name}", f"version={config.version}"],
            "check_path": READINESS_PATH,
            "check_interval": options.check_interval,
            "check_timeout": "2s",
        },
        "update": {
            "max_parallel": update.max_parallel,
            "canary": update.canary,
            "auto_promote": update.auto_promote,
            "auto_revert": True,
            "min_healthy_time": update.min_healthy_time,
            "healthy_deadline": update.healthy_deadline,
            "progress_deadline": update.progress_deadline,
        },
        "restart": {"attempts": 2, "interval": "30m", "delay": "15s", "mode": "fail"},
        "reschedule": {
            "delay": "30s",
            "delay_function": "exponential",
            "max_delay": "10m",
            "unlimited": True,
        },
        "task_driver": options.task_driver,
        "image": options.runtime_image,
        "docker_runtime": (
            NVIDIA_DOCKER_RUNTIME if gpus and options.task_driver == "docker" else None
        ),
        "python": options.python,
        # docker mounts the task's local/ at /local; raw_exec runs in the task directory.
        "bundle_path": f"/{BUNDLE_DIR}" if options.task_driver == "docker" else BUNDLE_DIR,
        "artifact": {
            "source": options.artifact_url,
            "destination": BUNDLE_DIR,
            "checksum": f"sha256:{options.artifact_sha256}",
        },
        "env": {
            "MLCTL_MODEL_NAME": config.name,
            "MLCTL_MODEL_VERSION": config.version,
            "MLCTL_BUNDLE_SHA256": options.artifact_sha256,
            "PYTHONUNBUFFERED": "1",
            **options.auth_env,
        },
        "cpu": config.resources.cpu,
        "memory": config.resources.memory,
        "gpu": _gpu_variables(config, gpus),
    }


def render_model_job(config: BundleConfig, options: DeployOptions) -> str:
    """The HCL of the model's Nomad service job, ready for ``POST /v1/jobs/parse``."""
    return render_template(MODEL_JOB_TEMPLATE, template_variables(config, options))
