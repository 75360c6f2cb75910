"""Simulator lifecycle: canaries, auto-revert, scale, revert, stop/purge, logs, steering."""

from __future__ import annotations

from typing import Any

import nomad
import pytest
import requests

from tests.integration.test_nomad_simulator import WEB_HCL, deployment_done, wait_for, web_job
from tests.simulators.nomad.fixtures import NomadHandle, require_sim


@pytest.fixture
def client(nomad_cluster: NomadHandle) -> Any:
    return nomad_cluster.client()


def deploy_v0(client: Any) -> None:
    client.jobs.register_job({"Job": web_job(client)})
    wait_for(deployment_done(client, "web", 0), "version 0 to deploy")


def test_canary_waits_for_promotion(client: Any) -> None:
    deploy_v0(client)
    job = client.jobs.parse(
        WEB_HCL.replace("IMAGE", "mlctl/runtime:2").replace(
            "auto_revert = true", "auto_revert = true\n      canary = 1"
        )
    )
    client.jobs.register_job({"Job": job})

    def canary_healthy() -> Any:
        dep = client.job.get_deployment("web")
        state = dep["TaskGroups"]["api"]
        return dep if dep["JobVersion"] == 1 and state["HealthyAllocs"] == 1 else None

    dep = wait_for(canary_healthy, "the canary to become healthy")
    assert dep["Status"] == "running"
    assert dep["TaskGroups"]["api"]["DesiredCanaries"] == 1
    assert dep["StatusDescription"] == "Deployment is running but requires manual promotion"
    live = [a for a in client.job.get_allocations("web") if a["DesiredStatus"] == "run"]
    assert sorted(a["JobVersion"] for a in live) == [0, 0, 1]
    client.deployment.promote_deployment_all(dep["ID"])
    done = wait_for(deployment_done(client, "web", 1), "the promoted deployment")
    assert done["Status"] == "successful"
    live = [a for a in client.job.get_allocations("web") if a["DesiredStatus"] == "run"]
    assert sorted(a["JobVersion"] for a in live) == [1, 1]


def test_failing_version_is_auto_reverted(nomad_cluster: NomadHandle, client: Any) -> None:
    sim = require_sim(nomad_cluster)
    deploy_v0(client)
    sim.set_behaviour(
        "fail:Failed to pull `mlctl/runtime:broken`: manifest unknown", image="mlctl/runtime:broken"
    )
    client.jobs.register_job({"Job": web_job(client, "mlctl/runtime:broken")})
    failed = wait_for(deployment_done(client, "web", 1), "the broken deployment to fail")
    assert failed["Status"] == "failed"
    assert failed["StatusDescription"] == (
        "Failed due to unhealthy allocations - rolling back to job version 0"
    )
    broken = [a for a in client.job.get_allocations("web") if a["JobVersion"] == 1]
    state = client.allocation.get_allocation(broken[0]["ID"])["TaskStates"]["server"]
    failure = next(e for e in state["Events"] if e["Type"] == "Driver Failure")
    assert "manifest unknown" in failure["DisplayMessage"]
    assert state["Events"][-1]["Type"] in ("Not Restarting", "Alloc Unhealthy")
    wait_for(deployment_done(client, "web", 2), "the rollback deployment")
    job = client.job.get_job("web")
    assert job["Version"] == 2
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == "mlctl/runtime:1"


def test_oom_task_reports_exit_137(nomad_cluster: NomadHandle, client: Any) -> None:
    sim = require_sim(nomad_cluster)
    sim.set_behaviour("oom", job="web")
    client.jobs.register_job({"Job": web_job(client)})
    dep = wait_for(deployment_done(client, "web", 0), "the OOM deployment to end")
    assert dep["Status"] == "failed"
    assert (
        dep["StatusDescription"]
        == "Failed due to unhealthy allocations - no stable job version to auto revert to"
    )
    alloc = client.allocation.get_allocation(client.job.get_allocations("web")[0]["ID"])
    terminated = next(
        e for e in alloc["TaskStates"]["server"]["Events"] if e["Type"] == "Terminated"
    )
    assert terminated["ExitCode"] == 137
    assert terminated["Details"]["oom_killed"] == "true"


def test_scale_is_blocked_during_a_deployment_then_works(
    nomad_cluster: NomadHandle, client: Any
) -> None:
    require_sim(nomad_cluster)
    client.jobs.register_job({"Job": web_job(client)})
    url = f"{nomad_cluster.address}/v1/job/web/scale"
    blocked = requests.post(url, json={"Count": 3, "Target": {"Group": "api"}}, timeout=5)
    assert blocked.status_code == 400
    assert blocked.text == "job scaling blocked due to active deployment"
    wait_for(deployment_done(client, "web", 0), "the first deployment")
    ok = requests.post(
        url, json={"Count": 3, "Target": {"Group": "api"}, "Message": "more"}, timeout=5
    )
    assert ok.status_code == 200 and ok.json()["EvalID"]
    wait_for(deployment_done(client, "web", 1), "the scaled deployment")
    status = requests.get(url, timeout=5).json()
    assert status["TaskGroups"]["api"]["Desired"] == 3
    assert status["TaskGroups"]["api"]["Running"] == 3
    assert status["TaskGroups"]["api"]["Events"][0]["Message"] == "more"


def test_versions_revert_stop_and_purge(client: Any, nomad_cluster: NomadHandle) -> None:
    deploy_v0(client)
    client.jobs.register_job({"Job": web_job(client)})  # unchanged: no new version
    client.jobs.register_job({"Job": web_job(client, "mlctl/runtime:2")})
    wait_for(deployment_done(client, "web", 1), "version 1")
    versions = client.job.get_versions("web")["Versions"]
    assert [v["Version"] for v in versions] == [1, 0]
    assert all(v["Stable"] for v in versions)
    client.job.revert_job("web", 0, enforce_prior_version=1)
    wait_for(deployment_done(client, "web", 2), "the revert")
    assert (
        client.job.get_job("web")["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
        == "mlctl/runtime:1"
    )
    with pytest.raises(nomad.api.exceptions.BaseNomadException):
        client.job.revert_job("web", 2)
    client.job.deregister_job("web")
    stopped = client.job.get_job("web")
    assert stopped["Stop"] is True
    wait_for(lambda: client.job.get_job("web")["Status"] == "dead", "the job to be dead")
    client.job.deregister_job("web", purge=True)
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        client.job.get_job("web")


def test_logs_plain_and_framed(nomad_cluster: NomadHandle, client: Any) -> None:
    sim = require_sim(nomad_cluster)
    deploy_v0(client)
    alloc_id = client.job.get_allocations("web")[0]["ID"]
    sim.write_log(alloc_id, "server", "stdout", "predict ok\n")
    plain = requests.get(
        f"{nomad_cluster.address}/v1/client/fs/logs/{alloc_id}",
        params={"task": "server", "type": "stdout", "plain": "true"},
        timeout=5,
    )
    assert plain.status_code == 200 and plain.text.endswith("predict ok\n")
    framed = requests.get(
        f"{nomad_cluster.address}/v1/client/fs/logs/{alloc_id}",
        params={"task": "server", "type": "stdout"},
        timeout=5,
    ).json()
    assert framed["File"] == "alloc/logs/server.stdout.0"
    import base64

    assert base64.b64decode(framed["Data"]).decode() == plain.text
    bad = requests.get(
        f"{nomad_cluster.address}/v1/client/fs/logs/{alloc_id}",
        params={"task": "server", "type": "nope"},
        timeout=5,
    )
    assert bad.status_code == 400


def test_node_down_moves_allocations(nomad_cluster: NomadHandle, client: Any) -> None:
    sim = require_sim(nomad_cluster)
    deploy_v0(client)
    victim = client.job.get_allocations("web")[0]
    sim.set_node_status(victim["NodeName"], "down")
    lost = client.allocation.get_allocation(victim["ID"])
    assert lost["ClientStatus"] == "lost"
    wait_for(
        lambda: sum(a["ClientStatus"] == "running" for a in client.job.get_allocations("web")) == 2,
        "a replacement on another node",
    )


def test_restart_and_stop_allocation(client: Any) -> None:
    deploy_v0(client)
    alloc = client.job.get_allocations("web")[0]
    client.client.allocation.restart_allocation(alloc["ID"])
    events = client.allocation.get_allocation(alloc["ID"])["TaskStates"]["server"]["Events"]
    assert "Restart Signaled" in [e["Type"] for e in events]
    stopped = client.allocation.stop_allocation(alloc["ID"])
    assert stopped["EvalID"]
    assert client.allocation.get_allocation(alloc["ID"])["DesiredStatus"] == "stop"
    wait_for(
        lambda: sum(a["ClientStatus"] == "running" for a in client.job.get_allocations("web")) == 2,
        "the stopped allocation to be replaced",
    )
    # As in Nomad, the replacement of a migrated allocation names it, and it names its
    # replacement (what `mlctl tui` shows as the slot's previous instance).
    (replacement,) = [
        a for a in client.job.get_allocations("web") if a["Name"] == alloc["Name"]
        and a["ID"] != alloc["ID"]
    ]  # fmt: skip
    assert client.allocation.get_allocation(replacement["ID"])["PreviousAllocation"] == alloc["ID"]
    assert client.allocation.get_allocation(alloc["ID"])["NextAllocation"] == replacement["ID"]
