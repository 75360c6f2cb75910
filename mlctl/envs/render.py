"""A loaded environment spec plus deploy-time options → the render context → HCL.

:func:`env_context` is pure and decides everything the job says (IDs, meta, command,
mounts, downloads, templates); the templates in ``jobspecs/environments/`` only decide
how it is written. ``jobspecs/environments/variables.yaml`` documents every key, and a
test keeps the two in step.

Secrets never pass through here: a Jupyter token reaches the task only through a
``template`` block that reads the job's Nomad Variable with the task's workload identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlctl.envs.catalog import Template
from mlctl.envs.load import LoadedSpec
from mlctl.envs.spec import Lifecycle
from mlctl.errors import InvalidInput
from mlctl.render import GROUP_NAME, JOB_ID_PREFIX, TASK_NAME, render_template

ENV_JOB_PREFIX = f"{JOB_ID_PREFIX}env-"
ENV_META = "mlctl.env"
TOKEN_ITEM = "jupyter_token"  # noqa: S105 - the name of a variable item, not a secret
APP_DIR = "local/app"
DRIVERS = ("docker", "raw_exec")

#: Runs in the task before the user's command: optional pip packages into a private
#: virtualenv (so a raw_exec task never touches the host's interpreter), then the
#: command from the app directory. "python" means the task's interpreter ($MLCTL_PYTHON).
LAUNCHER = """set -eu
cd "$NOMAD_TASK_DIR"
if [ -s requirements.txt ]; then
  "$MLCTL_PYTHON" -m venv --system-site-packages "$NOMAD_ALLOC_DIR/venv"
  "$NOMAD_ALLOC_DIR/venv/bin/python" -m pip install --quiet --no-input -r requirements.txt
  MLCTL_PYTHON="$NOMAD_ALLOC_DIR/venv/bin/python"
fi
if [ -d app ]; then cd app; fi
case "$1" in python|python3) shift; set -- "$MLCTL_PYTHON" "$@" ;; esac
exec "$@"
"""


@dataclass(frozen=True)
class EnvOptions:
    """Everything about the job that is not in the spec."""

    namespace: str
    datacenters: tuple[str, ...]
    driver: str = "docker"
    python: str = "python"
    """The interpreter raw_exec tasks run (docker tasks use the image's ``python``)."""
    owner: str = "unknown"
    node_pool: str | None = None
    app_url: str | None = None
    app_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise InvalidInput(f"driver {self.driver!r}: use docker or raw_exec")
        if not self.datacenters:
            raise InvalidInput("datacenters: at least one datacenter is needed")


def is_app(template: Template) -> bool:
    """Apps run like models (job ID, meta, group and task names), so they are operated alike."""
    return template.name == "python-service"


def env_job_id(name: str, template: Template) -> str:
    return f"{JOB_ID_PREFIX}{name}" if is_app(template) else f"{ENV_JOB_PREFIX}{name}"


def token_variable_path(job_id: str) -> str:
    """Where the workspace's token lives: readable by the job's own workload identity."""
    return f"nomad/jobs/{job_id}"


def token_template(job_id: str) -> dict[str, Any]:
    path = token_variable_path(job_id)
    data = f'{{{{ with nomadVar "{path}" }}}}JUPYTER_TOKEN={{{{ .{TOKEN_ITEM} }}}}\n{{{{ end }}}}'
    return {
        "data": data,
        "destination": "secrets/jupyter.env",
        "env": True,
        "change_mode": "restart",
    }


def _meta(loaded: LoadedSpec, options: EnvOptions) -> dict[str, str]:
    spec, template = loaded.spec, loaded.template
    meta = {
        "managed-by": "mlctl",
        ENV_META: spec.name,
        "mlctl.template": template.name,
        "mlctl.owner": options.owner,
    }
    if is_app(template):
        meta.update(
            {
                "mlctl.model": spec.name,
                "mlctl.kind": "app",
                "mlctl.version": str(loaded.variables["version"]),
                "mlctl.deployed_by": options.owner,
            }
        )
        if options.app_sha256:
            meta["mlctl.bundle_sha256"] = options.app_sha256
    return meta


def _user_command(loaded: LoadedSpec, options: EnvOptions) -> list[str]:
    if loaded.template.name.startswith("jupyter"):
        ip = "0.0.0.0" if options.driver == "docker" else "127.0.0.1"  # noqa: S104 - in a container
        app = "jupyterlab" if loaded.variables["interface"] == "lab" else "notebook"
        command = ["python", "-m", app, "--no-browser", f"--ip={ip}", "--port=${NOMAD_PORT_http}"]
        # raw_exec runs as the runtime's user, which may be root (CI); Jupyter refuses
        # root unless told, and the flag changes nothing for other users.
        return command if options.driver == "docker" else [*command, "--allow-root"]
    return list(loaded.variables["command"])


def _ports(loaded: LoadedSpec, options: EnvOptions) -> list[dict[str, Any]]:
    # Inside a container the app listens on `to`; raw_exec has no mapping, so the app
    # listens on the host port itself ($NOMAD_PORT_<label> is then the host port).
    mapped = options.driver == "docker"
    ports = []
    if loaded.template.kind == "service":
        port = int(loaded.variables["port"])
        ports.append({"label": "http", "to": port if mapped else None, "static": None})
    for port_spec in loaded.spec.ports:
        ports.append(
            {
                "label": port_spec.label,
                "to": port_spec.to if mapped else None,
                "static": port_spec.static,
            }
        )
    return ports


def _volumes(loaded: LoadedSpec) -> list[dict[str, Any]]:
    volumes = []
    for dataset in loaded.spec.datasets:
        if dataset.volume is not None:
            volumes.append(
                _volume(
                    dataset.name,
                    dataset.volume,
                    dataset.volume_type,
                    dataset.target or f"/data/{dataset.name}",
                    read_only=True,
                )
            )
    for index, storage in enumerate(loaded.spec.storage):
        if storage.lifecycle is Lifecycle.PERSISTENT and storage.volume:
            volumes.append(
                _volume(
                    f"storage_{index}",
                    storage.volume,
                    storage.volume_type,
                    storage.target,
                    read_only=False,
                )
            )
    return volumes


def _volume(name: str, source: str, kind: str, target: str, *, read_only: bool) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "source": source,
        "read_only": read_only,
        "target": target,
        "access_mode": "multi-node-reader-only" if read_only else "single-node-writer",
        "attachment_mode": "file-system",
    }


def _artifacts(loaded: LoadedSpec, options: EnvOptions) -> list[dict[str, Any]]:
    artifacts = [
        {
            "source": dataset.source,
            "destination": f"local/datasets/{dataset.name}",
            "mode": "any",
            "checksum": dataset.checksum,
        }
        for dataset in loaded.spec.datasets
        if dataset.source is not None
    ]
    if options.app_url:
        artifacts.append(
            {
                "source": options.app_url,
                "destination": APP_DIR,
                "mode": "dir",
                "checksum": f"sha256:{options.app_sha256}",
            }
        )
    return artifacts


def _templates(loaded: LoadedSpec, job_id: str) -> list[dict[str, Any]]:
    templates = []
    if loaded.template.token:
        templates.append(token_template(job_id))
    if loaded.packages:
        templates.append(
            {
                "data": "\n".join(loaded.packages) + "\n",
                "destination": "local/requirements.txt",
                "env": False,
                "change_mode": "noop",
            }
        )
    return templates


def _resources(loaded: LoadedSpec) -> dict[str, Any]:
    defaults = loaded.template.resources
    asked = loaded.spec.resources
    gpu = asked.gpu.model_dump() if asked.gpu else defaults.get("gpu")
    scratch = sum(s.size or 0 for s in loaded.spec.storage if s.lifecycle is Lifecycle.TEMPORARY)
    return {
        "cpu": asked.cpu or int(defaults["cpu"]),
        "memory": asked.memory or int(defaults["memory"]),
        "disk": (asked.disk or int(defaults["disk"])) + scratch,
        "gpu": None
        if not gpu
        else {
            "count": int(gpu.get("count") or 1),
            "memory_mib": gpu.get("memory"),
            "model": gpu.get("model"),
        },
    }


def _service(loaded: LoadedSpec) -> dict[str, Any] | None:
    name = loaded.spec.name
    if loaded.template.kind != "service":
        return None
    if is_app(loaded.template):
        version = str(loaded.variables["version"])
        return {
            "name": name,
            "port": "http",
            "tags": ["mlctl", f"model={name}", f"version={version}", "app"],
            "check_path": str(loaded.variables["health_path"]),
        }
    return {
        "name": f"{name}-jupyter",
        "port": "http",
        "tags": ["mlctl", f"env={name}", "jupyter"],
        "check_path": "/api",  # answers without the token, so the check needs no secret
    }


def _policies(kind: str) -> dict[str, Any]:
    if kind == "batch":
        return {"restart": {"attempts": 0, "interval": "24h", "delay": "15s", "mode": "fail"}}
    return {
        "restart": {"attempts": 2, "interval": "30m", "delay": "15s", "mode": "fail"},
        "reschedule": {
            "delay": "30s",
            "delay_function": "exponential",
            "max_delay": "10m",
            "unlimited": True,
        },
        "rollout": {
            "max_parallel": 1,
            "canary": 0,
            "auto_promote": False,
            "auto_revert": True,
            "min_healthy_time": "10s",
            "healthy_deadline": "5m",
            "progress_deadline": "10m",
        },
    }


def env_context(loaded: LoadedSpec, options: EnvOptions) -> dict[str, Any]:
    """The ``env`` object every environment template renders (variables.yaml)."""
    spec, template = loaded.spec, loaded.template
    job_id = env_job_id(spec.name, template)
    app = is_app(template)
    python = "python" if options.driver == "docker" else options.python
    return {
        "job_id": job_id,
        "namespace": options.namespace,
        "datacenters": list(options.datacenters),
        "node_pool": options.node_pool,
        "type": template.kind,
        "meta": _meta(loaded, options),
        "group_name": GROUP_NAME if app else "env",
        "task_name": TASK_NAME if app else template.name.split("-")[0],
        "count": int(loaded.variables.get("replicas", 1)),
        "driver": options.driver,
        "image": spec.image or str(loaded.variables["image"]),
        "command": ["/bin/sh", "-c", LAUNCHER, "mlctl-env", *_user_command(loaded, options)],
        "env": {"MLCTL_PYTHON": python, "MLCTL_ENV_NAME": spec.name, "PYTHONUNBUFFERED": "1"},
        **_resources(loaded),
        "ports": _ports(loaded, options),
        "service": _service(loaded),
        "volumes": _volumes(loaded),
        "artifacts": _artifacts(loaded, options),
        "templates": _templates(loaded, job_id),
        **_policies(template.kind),
    }


def render_env_job(loaded: LoadedSpec, options: EnvOptions) -> str:
    """The environment's Nomad job as HCL, ready for ``POST /v1/jobs/parse``."""
    return render_template(loaded.template.file, {"env": env_context(loaded, options)})
