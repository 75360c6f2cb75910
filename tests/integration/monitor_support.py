"""Helpers for the monitor's integration tests: model jobs, tokens, waiting on conditions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.simulators.nomad.fixtures import NomadHandle

MODEL_HCL = """
job "mlctl-NAME" {
  namespace   = "NAMESPACE"
  datacenters = ["dc1"]
  type        = "service"
  meta = {
    "managed-by"    = "mlctl"
    "mlctl.model"   = "NAME"
    "mlctl.version" = "1.0.0"
    ALERTS
  }
  group "model" {
    count = COUNT
    network {
      port "http" { to = 8080 }
    }
    service {
      provider = "nomad"
      name     = "NAME"
      port     = "http"
      check {
        type     = "http"
        path     = "/readyz"
        interval = "10s"
        timeout  = "2s"
      }
    }
    update {
      max_parallel     = 1
      min_healthy_time = "MINHEALTHY"
      healthy_deadline = "3m"
      auto_revert      = AUTOREVERT
    }
    restart {
      attempts = 10
      interval = "30m"
      delay    = "RESTARTDELAY"
      mode     = "fail"
    }
    task "server" {
      driver = "docker"
      config {
        image = "IMAGE"
        ports = ["http"]
      }
      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
"""


def model_hcl(
    name: str,
    count: int = 1,
    namespace: str = "default",
    alerts: dict[str, Any] | None = None,
    min_healthy: str = "10s",
    restart_delay: str = "15s",
    auto_revert: str = "true",
    image: str = "mlctl/runtime:0.1.0-cpu",
) -> str:
    alerts_line = ""
    if alerts is not None:
        alerts_line = '"mlctl.alerts" = ' + json.dumps(json.dumps(alerts))
    return (
        MODEL_HCL.replace("NAMESPACE", namespace)
        .replace("NAME", name)
        .replace("COUNT", str(count))
        .replace("ALERTS", alerts_line)
        .replace("MINHEALTHY", min_healthy)
        .replace("RESTARTDELAY", restart_delay)
        .replace("AUTOREVERT", auto_revert)
        .replace("IMAGE", image)
    )


def headers(token: str | None) -> dict[str, str]:
    return {"X-Nomad-Token": token} if token else {}


def register_model(
    handle: NomadHandle,
    name: str,
    count: int = 1,
    namespace: str = "default",
    alerts: dict[str, Any] | None = None,
    **timing: str,  # min_healthy, restart_delay
) -> dict[str, Any]:
    """Parse and register a model job like ``mlctl deploy`` would; returns the job JSON."""
    return register_hcl(handle, model_hcl(name, count, namespace, alerts, **timing), namespace)


def register_hcl(handle: NomadHandle, hcl: str, namespace: str = "default") -> dict[str, Any]:
    """Parse ``hcl`` with the cluster and register it, as the management token."""
    token = handle.management_token
    parsed = requests.post(
        f"{handle.address}/v1/jobs/parse",
        json={"JobHCL": hcl, "Canonicalize": True},
        headers=headers(token),
        timeout=10,
    )
    parsed.raise_for_status()
    job = parsed.json()
    answer = requests.post(
        f"{handle.address}/v1/jobs",
        params={"namespace": namespace},
        json={"Job": job},
        headers=headers(token),
        timeout=10,
    )
    answer.raise_for_status()
    return dict(job)


def create_namespace(handle: NomadHandle, name: str) -> None:
    requests.post(
        f"{handle.address}/v1/namespace",
        json={"Name": name},
        headers=headers(handle.management_token),
        timeout=5,
    ).raise_for_status()


def create_policy(handle: NomadHandle, name: str, rules: str) -> None:
    requests.post(
        f"{handle.address}/v1/acl/policy/{name}",
        json={"Name": name, "Rules": rules},
        headers=headers(handle.management_token),
        timeout=5,
    ).raise_for_status()


def create_token(handle: NomadHandle, policies: list[str], ttl: str | None = None) -> Any:
    body: dict[str, Any] = {"Name": "monitor-test", "Type": "client", "Policies": policies}
    if ttl:
        body["ExpirationTTL"] = ttl
    answer = requests.post(
        f"{handle.address}/v1/acl/token",
        json=body,
        headers=headers(handle.management_token),
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll until ``check()`` is truthy; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")
