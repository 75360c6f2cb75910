"""Fixtures of the TUI's tests: a simulator with models registered like mlctl deploy does."""

from __future__ import annotations

from typing import Any

import pytest

from mlctl.local.engine.topology import default_cluster
from tests.integration.monitor_support import model_hcl, register_hcl
from tests.simulators.nomad.fixtures import NomadHandle, SimFactory


def register(
    handle: NomadHandle,
    name: str,
    count: int = 1,
    namespace: str = "default",
    version: str = "1.0.0",
    canary: int = 0,
    alerts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parse and register a model job as ``mlctl deploy`` would (without the upload)."""
    hcl = model_hcl(name, count, namespace, alerts).replace(
        '"mlctl.version" = "1.0.0"', f'"mlctl.version" = "{version}"'
    )
    if version != "1.0.0":  # a new bundle changes the task: a destructive update, as deploy does
        hcl = hcl.replace("mlctl/runtime:0.1.0-cpu", f"mlctl/runtime:{version}-cpu")
    if canary:
        hcl = hcl.replace("max_parallel     = 1", f"max_parallel     = 1\n      canary = {canary}")
    return register_hcl(handle, hcl, namespace)


@pytest.fixture
def cluster(nomad_sim_factory: SimFactory) -> NomadHandle:
    """The standard three-node simulator (ACLs off), fast simulated time."""
    return nomad_sim_factory(nodes=default_cluster(), time_scale=50.0)
