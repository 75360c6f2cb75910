"""``mlctl monitor deploy``: the monitor itself as a Nomad service job.

The job (``jobspecs/monitor.nomad.hcl.j2``) runs ``mlctl monitor run`` from the runtime
image with count 1 and an HTTP check on ``/healthz``. Its identity is the AppRole
``mlctl-monitor``: ``mlctl vault monitor-credentials`` writes the role-id and a fresh
secret-id into the job's own Nomad Variable ``nomad/jobs/mlctl-monitor``, which Nomad
lets only this job's tasks read; a template turns them into environment variables of
the task, from which the monitor logs in to Vault and mints its Nomad token (policy
``nomad-monitor``). Neither secret is ever part of the job, an argument or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from mlctl.errors import InvalidInput
from mlctl.monitor.config import MonitorConfig
from mlctl.render.environment import render_template

TEMPLATE = "monitor.nomad.hcl.j2"
JOB_ID = "mlctl-monitor"
TASK_DRIVERS = ("docker", "raw_exec")
HEALTH_PORT = 9464
ROLE_ID_ENV = "MLCTL_MONITOR_ROLE_ID"
SECRET_ID_ENV = "MLCTL_MONITOR_SECRET_ID"  # noqa: S105 - the name of a variable
#: Nomad's template language (consul-template) reading the job's own Variable.
APPROLE_TEMPLATE = (
    '{{ with nomadVar "nomad/jobs/JOB" }}'
    f"{ROLE_ID_ENV}={{{{ .role_id }}}}\n{SECRET_ID_ENV}={{{{ .secret_id }}}}\n"
    "{{ end }}"
)


def approle_variable_path(job_id: str = JOB_ID) -> str:
    """Where ``mlctl vault monitor-credentials`` writes the AppRole credentials."""
    return f"nomad/jobs/{job_id}"


@dataclass(frozen=True)
class MonitorJob:
    namespace: str
    datacenters: tuple[str, ...]
    image: str
    nomad_addr: str
    vault_addr: str
    config: MonitorConfig = field(default_factory=MonitorConfig)
    nomad_cacert_path: str | None = None
    vault_cacert_path: str | None = None
    cpu: int = 200
    memory: int = 256
    job_id: str = JOB_ID
    task_driver: str = "docker"
    """``docker`` (the runtime image) or ``raw_exec`` (``python -m mlctl`` on the client,
    e.g. on ``mlctl local``): the context's ``task_driver``, as for models."""
    python: str | None = None
    """raw_exec only: the interpreter with mlctl installed."""

    def __post_init__(self) -> None:
        if self.task_driver not in TASK_DRIVERS:
            raise InvalidInput(
                f"task driver {self.task_driver!r} is not one of {', '.join(TASK_DRIVERS)}"
            )
        if self.task_driver == "raw_exec" and not self.python:
            raise InvalidInput("raw_exec needs the Python interpreter that has mlctl")


def config_text(config: MonitorConfig) -> str:
    """The config as the task reads it (only what was set, secrets are references)."""
    data = config.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data.pop("event_log", None)  # the job decides where the log lives
    return "# mlctl monitor config, written by mlctl monitor deploy\n" + yaml.safe_dump(
        data, sort_keys=True
    )


def template_variables(job: MonitorJob) -> dict[str, Any]:
    env = {"NOMAD_ADDR": job.nomad_addr, "VAULT_ADDR": job.vault_addr}
    if job.nomad_cacert_path:
        env["NOMAD_CACERT"] = job.nomad_cacert_path
    if job.vault_cacert_path:
        env["VAULT_CACERT"] = job.vault_cacert_path
    return {
        "job_id": job.job_id,
        "namespace": job.namespace,
        "datacenters": list(job.datacenters),
        "health_port": HEALTH_PORT,
        "service_name": job.job_id,
        "task_driver": job.task_driver,
        "image": job.image,
        "python": job.python,
        "env": env,
        "config_yaml": config_text(job.config),
        "approle_template": APPROLE_TEMPLATE.replace("JOB", job.job_id),
        "cpu": job.cpu,
        "memory": job.memory,
    }


def render_monitor_job(job: MonitorJob) -> str:
    return render_template(TEMPLATE, template_variables(job))
