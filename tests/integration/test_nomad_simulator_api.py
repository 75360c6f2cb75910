"""Simulator API behaviour: ACL enforcement, blocking queries, the event stream, variables."""

from __future__ import annotations

import json
import threading
from typing import Any

import nomad
import pytest
import requests

from tests.integration.test_nomad_simulator import deployment_done, wait_for, web_job
from tests.simulators.nomad.fixtures import NomadHandle, SimFactory

TEAM_A_POLICY = """
namespace "team-a" {
  policy = "read"
  capabilities = ["submit-job", "scale-job", "read-logs", "alloc-lifecycle"]
  variables {
    path "schedules/*" { capabilities = ["read", "write", "list"] }
  }
}
node { policy = "read" }
"""


@pytest.fixture
def acl_cluster(nomad_sim_factory: SimFactory) -> NomadHandle:
    handle = nomad_sim_factory(acl=True)
    admin = handle.client()
    requests.post(
        f"{handle.address}/v1/namespace",
        json={"Name": "team-a"},
        headers={"X-Nomad-Token": handle.management_token},
        timeout=5,
    ).raise_for_status()
    admin.acl.create_policy("team-a-dev", {"Name": "team-a-dev", "Rules": TEAM_A_POLICY})
    return handle


def token_for(handle: NomadHandle, policies: list[str], ttl: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Name": "alice", "Type": "client", "Policies": policies}
    if ttl:
        body["ExpirationTTL"] = ttl
    return handle.client().acl.create_token(body)


def test_acl_enforces_namespace_capabilities(acl_cluster: NomadHandle) -> None:
    alice = token_for(acl_cluster, ["team-a-dev"])
    assert alice["Type"] == "client" and alice["Policies"] == ["team-a-dev"]
    mine = acl_cluster.client(token=alice["SecretID"], namespace="team-a")
    job = web_job(mine)
    job["Namespace"] = "team-a"
    assert mine.jobs.register_job({"Job": job})["EvalID"]
    assert [j["ID"] for j in mine.jobs.get_jobs()] == ["web"]
    assert mine.nodes.get_nodes()
    other = acl_cluster.client(token=alice["SecretID"], namespace="default")
    job["Namespace"] = "default"
    with pytest.raises(nomad.api.exceptions.URLNotAuthorizedNomadException) as denied:
        other.jobs.register_job({"Job": job})
    assert denied.value.nomad_resp.text == "Permission denied"
    with pytest.raises(nomad.api.exceptions.URLNotAuthorizedNomadException):
        other.jobs.get_jobs()
    with pytest.raises(nomad.api.exceptions.URLNotAuthorizedNomadException):
        mine.acl.create_token({"Name": "x", "Type": "management"})
    self_token = mine.acl.get_self_token()
    assert self_token["AccessorID"] == alice["AccessorID"]


def test_acl_rejects_missing_unknown_and_expired_tokens(acl_cluster: NomadHandle) -> None:
    url = f"{acl_cluster.address}/v1/jobs"
    anonymous = requests.get(url, timeout=5)
    assert (anonymous.status_code, anonymous.text) == (403, "Permission denied")
    unknown = requests.get(
        url, headers={"X-Nomad-Token": "00000000-0000-0000-0000-000000000000"}, timeout=5
    )
    assert (unknown.status_code, unknown.text) == (403, "ACL token not found")
    short = token_for(acl_cluster, ["team-a-dev"], ttl="1m")
    headers = {"X-Nomad-Token": short["SecretID"]}
    assert (
        requests.get(url, params={"namespace": "team-a"}, headers=headers, timeout=5).status_code
        == 200
    )
    assert acl_cluster.sim is not None
    acl_cluster.sim.advance(61)
    expired = requests.get(url, params={"namespace": "team-a"}, headers=headers, timeout=5)
    assert (expired.status_code, expired.text) == (403, "ACL token expired")


def test_acl_bootstrap_only_once_and_bad_policy(acl_cluster: NomadHandle) -> None:
    again = requests.post(f"{acl_cluster.address}/v1/acl/bootstrap", timeout=5)
    assert again.status_code == 400 and "ACL bootstrap already done" in again.text
    bad = requests.post(
        f"{acl_cluster.address}/v1/acl/policy/bad",
        json={"Name": "bad", "Rules": 'namespace "x" { policy = "own" }'},
        headers={"X-Nomad-Token": acl_cluster.management_token},
        timeout=5,
    )
    assert bad.status_code == 400 and "invalid namespace policy" in bad.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/acl/policy/ops"),
        ("GET", "/v1/acl/policies"),
        ("POST", "/v1/acl/token"),
        ("GET", "/v1/acl/tokens"),
        ("GET", "/v1/acl/token/self"),
        ("GET", "/v1/acl/roles"),
        ("GET", "/v1/acl/auth-methods"),
        ("POST", "/v1/acl/bootstrap"),
    ],
)
def test_without_acls_every_acl_endpoint_says_so(
    nomad_cluster: NomadHandle, method: str, path: str
) -> None:
    """As Nomad's ACL RPCs do when the agent runs without ACLs (`nomad agent -dev`)."""
    body = {"Name": "ops", "Rules": 'namespace "default" { policy = "read" }'}
    answer = requests.request(
        method, f"{nomad_cluster.address}{path}", json=body if method == "POST" else None, timeout=5
    )
    assert (answer.status_code, answer.text.strip()) == (400, "ACL support disabled")


def test_blocking_query_returns_when_the_index_moves(nomad_cluster: NomadHandle) -> None:
    url = f"{nomad_cluster.address}/v1/jobs"
    first = requests.get(url, timeout=5)
    index = int(first.headers["X-Nomad-Index"])
    assert first.headers["X-Nomad-KnownLeader"] == "true"
    result: dict[str, Any] = {}

    def block() -> None:
        result["response"] = requests.get(url, params={"index": index, "wait": "30s"}, timeout=60)

    waiter = threading.Thread(target=block)
    waiter.start()
    client = nomad_cluster.client()
    client.jobs.register_job({"Job": web_job(client)})
    waiter.join(timeout=60)
    response = result["response"]
    assert int(response.headers["X-Nomad-Index"]) > index
    assert [j["ID"] for j in response.json()] == ["web"]


def test_blocking_query_returns_the_same_index_after_wait(nomad_cluster: NomadHandle) -> None:
    url = f"{nomad_cluster.address}/v1/nodes"
    index = int(requests.get(url, timeout=5).headers["X-Nomad-Index"])
    response = requests.get(url, params={"index": index, "wait": "100ms"}, timeout=10)
    assert response.status_code == 200
    assert int(response.headers["X-Nomad-Index"]) == index


def test_event_stream_yields_events_heartbeats_and_can_be_cut(nomad_cluster: NomadHandle) -> None:
    sim = nomad_cluster.sim
    if sim is None:
        pytest.skip("cutting the stream needs the simulator")
    client = nomad_cluster.client()
    client.jobs.register_job({"Job": web_job(client)})
    wait_for(deployment_done(client, "web", 0), "the deployment")
    lines: list[dict[str, Any]] = []
    with requests.get(
        f"{nomad_cluster.address}/v1/event/stream",
        params=[("topic", "Deployment"), ("topic", "Allocation"), ("index", "1")],
        stream=True,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        for raw in response.iter_lines():
            lines.append(json.loads(raw))
            if lines[-1] == {}:
                sim.cut_event_streams()
    frames = [f for f in lines if f]
    topics = {e["Topic"] for f in frames for e in f["Events"]}
    assert topics == {"Deployment", "Allocation"}
    statuses = [
        e["Payload"]["Deployment"]["Status"]
        for f in frames
        for e in f["Events"]
        if e["Topic"] == "Deployment"
    ]
    assert statuses[-1] == "successful"
    assert {} in lines


def test_variables_crud_with_cas_and_acl(acl_cluster: NomadHandle) -> None:
    alice = token_for(acl_cluster, ["team-a-dev"])
    headers = {"X-Nomad-Token": alice["SecretID"]}
    base = f"{acl_cluster.address}/v1/var/schedules/iris"
    put = requests.put(
        base,
        params={"namespace": "team-a", "cas": 0},
        json={"Namespace": "team-a", "Path": "schedules/iris", "Items": {"start": "08:00"}},
        headers=headers,
        timeout=5,
    )
    assert put.status_code == 200 and put.json()["Items"] == {"start": "08:00"}
    conflict = requests.put(
        base,
        params={"namespace": "team-a", "cas": 0},
        json={"Items": {"start": "09:00"}},
        headers=headers,
        timeout=5,
    )
    assert (
        conflict.status_code == 409 and conflict.json()["ModifyIndex"] == put.json()["ModifyIndex"]
    )
    got = requests.get(base, params={"namespace": "team-a"}, headers=headers, timeout=5).json()
    assert got["Items"] == {"start": "08:00"}
    listed = requests.get(
        f"{acl_cluster.address}/v1/vars", params={"namespace": "team-a"}, headers=headers, timeout=5
    ).json()
    assert [v["Path"] for v in listed] == ["schedules/iris"] and "Items" not in listed[0]
    denied = requests.delete(base, params={"namespace": "team-a"}, headers=headers, timeout=5)
    assert denied.status_code == 403
    outside = requests.put(
        f"{acl_cluster.address}/v1/var/secrets/x",
        params={"namespace": "team-a"},
        json={"Items": {"a": "b"}},
        headers=headers,
        timeout=5,
    )
    assert outside.status_code == 403


def test_service_events_follow_allocations_starting_and_stopping(
    nomad_sim_factory: SimFactory,
) -> None:
    """Nomad's Service topic: one ServiceRegistration per registration when an allocation
    starts running, a ServiceDeregistration when it stops, keyed by registration ID."""
    from mlctl.local.engine.topology import default_cluster
    from tests.integration.monitor_support import register_model

    cluster = nomad_sim_factory(nodes=default_cluster(), event_buffer_size=5000)
    client = cluster.client()
    register_model(cluster, "iris", count=2)
    wait_for(deployment_done(client, "mlctl-iris", 0), "the deployment")
    registered = requests.get(f"{cluster.address}/v1/service/iris", timeout=5).json()
    assert len(registered) == 2
    client.job.deregister_job("mlctl-iris")
    wait_for(
        lambda: not requests.get(f"{cluster.address}/v1/service/iris", timeout=5).json(),
        "the services to go",
    )
    events: list[dict[str, Any]] = []
    with requests.get(
        f"{cluster.address}/v1/event/stream",
        params=[("topic", "Service:iris"), ("index", "1")],
        stream=True,
        timeout=30,
    ) as response:
        for raw in response.iter_lines():
            frame = json.loads(raw)
            events += frame.get("Events") or []
            if sum(e["Type"] == "ServiceDeregistration" for e in events) == 2:
                break
    kinds = [(e["Type"], e["Key"]) for e in events]
    ids = sorted(r["ID"] for r in registered)
    assert sorted(k for t, k in kinds if t == "ServiceRegistration") == ids
    assert sorted(k for t, k in kinds if t == "ServiceDeregistration") == ids
    first = events[0]
    assert first["Topic"] == "Service" and first["Namespace"] == "default"
    assert first["Payload"]["Service"]["ServiceName"] == "iris"
    assert first["Payload"]["Service"]["Port"] > 0
