"""The run's parameterized batch job (jobspecs/train-trial.nomad.hcl.j2); pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlctl.render import JOB_ID_PREFIX, render_template
from mlctl.train.plan import RunPlan

TRAIN_TEMPLATE = "train-trial.nomad.hcl.j2"
TRAIN_JOB_PREFIX = f"{JOB_ID_PREFIX}train-"
RUN_META = "mlctl.train_run"


def train_job_id(run_id: str) -> str:
    return f"{TRAIN_JOB_PREFIX}{run_id}"


def credentials_template(job_id: str) -> str:
    """Read the store's basic auth from the run's variable into the trial's environment."""
    path = f"nomad/jobs/{job_id}"
    return (
        f'{{{{ with nomadVar "{path}" }}}}'
        "MLCTL_ARTIFACT_STORE_USER={{ .store_user }}\n"
        "MLCTL_ARTIFACT_STORE_PASSWORD={{ .store_password }}\n"
        "{{ end }}"
    )


@dataclass(frozen=True)
class TrainJob:
    run_id: str
    plan: RunPlan
    target: str
    dataset_url: str
    dataset_sha256: str
    dataset_suffix: str
    namespace: str
    datacenters: tuple[str, ...]
    owner: str
    store_url: str
    store_read_url: str | None
    store_auth: bool
    driver: str = "docker"
    image: str = "mlctl-runtime:latest"
    python: str = "python"
    node_pool: str | None = None
    cpu: int = 1000
    memory: int = 2048


def train_variables(job: TrainJob) -> dict[str, Any]:
    job_id = train_job_id(job.run_id)
    plan = job.plan
    destination = f"local/dataset{job.dataset_suffix}"
    env = {
        "MLCTL_TRAIN_RUN": job.run_id,
        "MLCTL_TRAIN_DATASET": "${NOMAD_TASK_DIR}/dataset" + job.dataset_suffix,
        "MLCTL_TRAIN_TARGET": job.target,
        "MLCTL_TRAIN_TASK": plan.task.value,
        "MLCTL_TRAIN_METRIC": plan.metric,
        "MLCTL_TRAIN_HOLDOUT": str(plan.holdout),
        "MLCTL_TRAIN_THREADS": str(max(1, job.cpu // 1000)),
        "MLCTL_ARTIFACT_STORE": job.store_url,
        "PYTHONUNBUFFERED": "1",
    }
    if plan.max_iter is not None:
        env["MLCTL_TRAIN_MAX_ITER"] = str(plan.max_iter)
    if job.store_read_url:
        env["MLCTL_ARTIFACT_READ_URL"] = job.store_read_url
    return {
        "job_id": job_id,
        "namespace": job.namespace,
        "datacenters": list(job.datacenters),
        "node_pool": job.node_pool,
        "meta": {
            "managed-by": "mlctl",
            RUN_META: job.run_id,
            "mlctl.dataset_sha256": job.dataset_sha256,
            "mlctl.target": job.target,
            "mlctl.task": plan.task.value,
            "mlctl.metric": plan.metric,
            "mlctl.owner": job.owner,
        },
        "driver": job.driver,
        "image": job.image,
        "python": job.python,
        "dataset": {
            "source": job.dataset_url,
            "destination": destination,
            "checksum": f"sha256:{job.dataset_sha256}",
        },
        "store_credentials": credentials_template(job_id) if job.store_auth else None,
        "env": env,
        "cpu": job.cpu,
        "memory": job.memory,
        "disk": 1024,
        "gpu": {"count": plan.gpus, "memory_mib": None, "model": None} if plan.gpus else None,
    }


def render_train_job(job: TrainJob) -> str:
    return render_template(TRAIN_TEMPLATE, train_variables(job))
