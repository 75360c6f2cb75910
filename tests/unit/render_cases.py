"""Bundle configs and deploy options shared by the render tests (the golden cases)."""

from __future__ import annotations

from typing import Any

from mlctl.bundle.schema import BundleConfig
from mlctl.render import DeployOptions, UpdatePolicy

SHA = "3f" * 32


def bundle(**overrides: Any) -> BundleConfig:
    raw: dict[str, Any] = {
        "name": "iris",
        "version": "1.2.0",
        "model": {"file": "model.skops", "format": "skops"},
        "signature": {
            "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
            "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]}],
        },
    }
    raw.update(overrides)
    return BundleConfig.model_validate(raw)


def options(**overrides: Any) -> DeployOptions:
    values: dict[str, Any] = {
        "namespace": "default",
        "datacenters": ("dc1",),
        "artifact_url": f"https://store.example.com/models/iris/{SHA}.tar.gz",
        "artifact_sha256": SHA,
        "runtime_image": "mlctl/runtime:0.1.0-cpu",
    }
    values.update(overrides)
    return DeployOptions(**values)


GOLDEN_CASES: dict[str, tuple[BundleConfig, DeployOptions]] = {
    "cpu": (bundle(replicas=2), options(deployed_by="alice")),
    "gpu": (
        bundle(
            name="resnet",
            version="2.0.0",
            resources={
                "cpu": 2000,
                "memory": 8192,
                "gpu": {"count": 2, "memory": 16384, "model": "Tesla T4"},
            },
            serving={"port": 9000},
        ),
        options(
            namespace="team-a",
            artifact_url=f"https://store.example.com/models/resnet/{SHA}.tar.gz",
            runtime_image="mlctl/runtime:0.1.0-cuda",
        ),
    ),
    "placement": (
        bundle(resources={"gpu": {"count": 1}}),
        options(
            datacenters=("dc1", "dc2"),
            node_pool="gpu-pool",
            node_class="gpu-t4",
            replicas=3,
            runtime_image="mlctl/runtime:0.1.0-cuda",
        ),
    ),
    "canary": (
        bundle(replicas=4),
        options(
            update=UpdatePolicy(
                max_parallel=2,
                canary=1,
                auto_promote=True,
                min_healthy_time="30s",
                healthy_deadline="3m",
                progress_deadline="15m",
            ),
            extra_meta={"team": "vision", "ticket": "ML-42"},
            deployed_by="bob",
        ),
    ),
    "raw_exec": (
        bundle(resources={"gpu": {"count": 1, "memory": 8192}}),
        options(
            artifact_url=f"file:///home/alice/.local/share/mlctl/local/artifacts/iris/{SHA}.tar.gz",
            task_driver="raw_exec",
            python="/home/alice/venv/bin/python",
            check_interval="1s",
            update=UpdatePolicy(min_healthy_time="1s"),
        ),
    ),
}
