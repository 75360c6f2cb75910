"""The Nomad simulator through the real python-nomad client: jobs, deployments, nodes.

These run against ``nomad agent -dev`` too when a nomad binary is on PATH; tests that
need steering call ``require_sim``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import nomad
import pytest
import requests

from tests.simulators.nomad.fixtures import NomadHandle, require_sim

WEB_HCL = """
job "web" {
  datacenters = ["dc1"]
  type = "service"
  meta { model = "iris" }
  group "api" {
    count = 2
    network { port "http" { to = 8080 } }
    service {
      provider = "nomad"
      name = "web"
      port = "http"
      check {
        type = "http"
        path = "/readyz"
        interval = "10s"
        timeout = "2s"
      }
    }
    update {
      max_parallel = 1
      min_healthy_time = "10s"
      healthy_deadline = "3m"
      auto_revert = true
    }
    task "server" {
      driver = "docker"
      config {
        image = "IMAGE"
        ports = ["http"]
      }
      resources {
        cpu = 500
        memory = 512
      }
    }
  }
}
"""

GPU_HCL = """
job "JOB" {
  datacenters = ["dc1"]
  group "gpu" {
    count = COUNT
    task "model" {
      driver = "docker"
      config { image = "runtime:cuda" }
      resources {
        cpu = 1000
        memory = 2048
        device "nvidia/gpu" {
          count = 1
          constraint {
            attribute = "${device.attr.memory}"
            operator = ">="
            value = "15 GiB"
          }
        }
      }
    }
  }
}
"""


def web_job(client: Any, image: str = "mlctl/runtime:1") -> dict[str, Any]:
    return client.jobs.parse(WEB_HCL.replace("IMAGE", image))


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll until ``check()`` is truthy; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def deployment_done(client: Any, job_id: str, version: int) -> Callable[[], Any]:
    def check() -> Any:
        for dep in client.job.get_deployments(job_id):
            if dep["JobVersion"] == version and dep["Status"] not in (
                "running",
                "pending",
                "paused",
            ):
                return dep
        return None

    return check


@pytest.fixture
def client(nomad_cluster: NomadHandle) -> Any:
    return nomad_cluster.client()


def test_parse_turns_hcl_into_the_api_job(client: Any) -> None:
    job = web_job(client)
    assert job["ID"] == "web"
    group = job["TaskGroups"][0]
    assert group["Count"] == 2
    assert group["Networks"][0]["DynamicPorts"] == [
        {"Label": "http", "Value": 0, "To": 8080, "HostNetwork": "default"}
    ]
    assert group["Update"]["MinHealthyTime"] == 10_000_000_000
    assert group["Services"][0]["Checks"][0]["Path"] == "/readyz"
    assert group["Tasks"][0]["Resources"] == {"CPU": 500, "MemoryMB": 512}


def test_parse_rejects_unknown_argument(client: Any) -> None:
    bad = WEB_HCL.replace('driver = "docker"', 'driver = "docker"\n      gpus = 1')
    with pytest.raises(nomad.api.exceptions.BadRequestNomadException) as err:
        client.jobs.parse(bad)
    assert 'An argument named "gpus" is not expected here' in err.value.nomad_resp.text


def test_register_deploys_and_becomes_healthy(nomad_cluster: NomadHandle, client: Any) -> None:
    response = client.jobs.register_job({"Job": web_job(client)})
    assert set(response) >= {"EvalID", "EvalCreateIndex", "JobModifyIndex", "Warnings"}
    dep = wait_for(deployment_done(client, "web", 0), "the first deployment")
    assert dep["Status"] == "successful"
    assert dep["StatusDescription"] == "Deployment completed successfully"
    assert dep["TaskGroups"]["api"]["HealthyAllocs"] == 2
    allocs = client.job.get_allocations("web")
    assert {a["ClientStatus"] for a in allocs} == {"running"}
    full = client.allocation.get_allocation(allocs[0]["ID"])
    events = [e["Type"] for e in full["TaskStates"]["server"]["Events"]]
    assert events[:2] == ["Received", "Task Setup"] and "Started" in events
    assert full["DeploymentStatus"]["Healthy"] is True
    assert client.job.get_job("web")["Stable"] is True
    evaluation = client.evaluation.get_evaluation(response["EvalID"])
    assert evaluation["Status"] == "complete" and evaluation["TriggeredBy"] == "job-register"


def test_unknown_json_field_is_a_400(nomad_cluster: NomadHandle, client: Any) -> None:
    require_sim(nomad_cluster)  # real Nomad silently drops unknown JSON fields
    job = web_job(client)
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMb"] = 1
    with pytest.raises(nomad.api.exceptions.BadRequestNomadException) as err:
        client.jobs.register_job({"Job": job})
    assert 'unknown field "MemoryMb"' in err.value.nomad_resp.text


def test_nodes_report_gpus(client: Any, nomad_cluster: NomadHandle) -> None:
    require_sim(nomad_cluster)
    nodes = client.nodes.get_nodes(resources=True)
    assert sorted(n["Name"] for n in nodes) == ["cpu-1", "gpu-1", "gpu-2"]
    gpu = client.node.get_node(next(n["ID"] for n in nodes if n["Name"] == "gpu-1"))
    device = gpu["NodeResources"]["Devices"][0]
    assert (device["Vendor"], device["Type"], device["Name"]) == ("nvidia", "gpu", "Tesla T4")
    assert device["Attributes"]["memory"] == {"Int": 15360, "Unit": "MiB"}
    assert len(device["Instances"]) == 1 and device["Instances"][0]["Healthy"] is True


def test_gpu_exhaustion_in_plan_and_blocked_eval(client: Any, nomad_cluster: NomadHandle) -> None:
    require_sim(nomad_cluster)
    first = client.jobs.parse(GPU_HCL.replace("JOB", "gpu-a").replace("COUNT", "2"))
    client.jobs.register_job({"Job": first})
    third = client.jobs.parse(GPU_HCL.replace("JOB", "gpu-b").replace("COUNT", "1"))
    plan = client.job.plan_job("gpu-b", {"Job": third}, diff=True)
    failed = plan["FailedTGAllocs"]["gpu"]
    assert failed["DimensionExhausted"] == {"devices: no devices match request": 2}
    assert failed["NodesExhausted"] == 2
    assert failed["ConstraintFiltered"] == {"missing devices": 1}
    # Nomad's reconciler counts the placement it wants before the scheduler tries
    # nodes; the failure to find room is reported apart, in FailedTGAllocs.
    assert plan["Annotations"]["DesiredTGUpdates"]["gpu"]["Place"] == 1
    response = client.jobs.register_job({"Job": third})
    evaluation = client.evaluation.get_evaluation(response["EvalID"])
    assert evaluation["BlockedEval"]
    assert client.evaluation.get_evaluation(evaluation["BlockedEval"])["Status"] == "blocked"
    requests.delete(f"{nomad_cluster.address}/v1/job/gpu-a?purge=true", timeout=5)
    wait_for(
        lambda: any(a["ClientStatus"] == "running" for a in client.job.get_allocations("gpu-b")),
        "the blocked GPU job to be placed once GPUs free up",
    )
