"""Shared by the deploy/lifecycle integration tests and the end-to-end tests.

Tests talk to Nomad only through ``mlctl`` commands and HTTP, so they run unchanged
against the simulator or a real ``nomad agent -dev``. Steering (a task that fails)
goes through :func:`steer`, which skips the test on a real agent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.bundle_fixtures import copy_example
from tests.cli_runner import Result, run_cli


def make_bundle(
    root: Path,
    name: str,
    *,
    version: str = "1.0.0",
    gpu: dict[str, Any] | None = None,
    replicas: int = 1,
) -> Path:
    """A copy of examples/iris renamed to ``name``; ``gpu`` sets ``resources.gpu``."""
    target = copy_example("iris", root / f"{name}-{version}")
    config_file = target / "mlctl.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config.update(name=name, version=version, replicas=replicas)
    if gpu is not None:
        config.setdefault("resources", {})["gpu"] = gpu
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return target


def use_cluster(monkeypatch: pytest.MonkeyPatch, cluster: Any, store: Path) -> None:
    """Point mlctl at ``cluster`` (with its management token when ACLs are on) and a
    file:// store."""
    store.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("NOMAD_ADDR", str(cluster.address))
    if cluster.management_token:
        monkeypatch.setenv("NOMAD_TOKEN", str(cluster.management_token))
    monkeypatch.setenv("MLCTL_ARTIFACT_STORE", store.resolve().as_uri())


def mlctl(*args: str) -> Result:
    return run_cli(list(args))


def mlctl_json(*args: str) -> tuple[int, Any]:
    """Run with ``-o json``; the parsed stdout (None when empty)."""
    result = run_cli(["-o", "json", *args])
    return result.status, json.loads(result.stdout) if result.stdout.strip() else None


def steer(cluster: Any, why: str) -> Any:
    """The simulator behind ``cluster``, or skip: a real agent cannot be steered."""
    sim = getattr(cluster, "sim", None)
    if sim is None:
        pytest.skip(f"real Nomad agent: this test {why}")
    return sim
