"""The engine's HTTP front door (hostile clients) and dispatch, on the simulated driver."""

from __future__ import annotations

import base64
import socket

import pytest
import requests

from mlctl.local.engine import NomadSim
from mlctl.local.engine.http import MAX_BODY_BYTES

PARAMETERIZED = {
    "ID": "train",
    "Type": "batch",
    "ParameterizedJob": {"Payload": "required", "MetaRequired": ["run"], "MetaOptional": ["x"]},
    "Meta": {"team": "ml"},
    "TaskGroups": [
        {
            "Name": "g",
            "Tasks": [
                {
                    "Name": "t",
                    "Driver": "docker",
                    "Config": {"image": "trainer:1"},
                    "DispatchPayload": {"File": "input.json"},
                }
            ],
        }
    ],
}


@pytest.fixture
def engine():
    with NomadSim(time_scale=50) as sim:
        sim.start()
        yield sim


def test_a_foreign_host_header_is_refused(engine):
    url = f"{engine.address}/v1/jobs"
    refused = requests.get(url, headers={"Host": "evil.example.com"}, timeout=5)
    assert refused.status_code == 403
    assert "is not a loopback name" in refused.text
    for host in ("127.0.0.1", f"127.0.0.1:{engine.port}", f"localhost:{engine.port}", "[::1]:1"):
        assert requests.get(url, headers={"Host": host}, timeout=5).status_code == 200


def test_a_cross_site_origin_is_refused(engine):
    url = f"{engine.address}/v1/jobs"
    job = {"Job": {"ID": "x", "TaskGroups": []}}
    refused = requests.post(url, json=job, headers={"Origin": "https://evil.example"}, timeout=5)
    assert refused.status_code == 403
    assert requests.get(url, headers={"Origin": f"http://localhost:{engine.port}"}, timeout=5).ok


def test_an_oversized_body_is_refused_before_it_is_read(engine):
    with socket.create_connection(("127.0.0.1", engine.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 ")


def dispatch(engine, body, token=""):
    params = {"idempotency_token": token} if token else {}
    return requests.post(
        f"{engine.address}/v1/job/train/dispatch", json=body, params=params, timeout=5
    )


def payload(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_dispatch_checks_payload_and_meta_like_nomad(engine):
    assert requests.post(f"{engine.address}/v1/jobs", json={"Job": PARAMETERIZED}, timeout=5).ok
    cases = [
        ({"Meta": {"run": "1"}}, "Payload is not provided"),
        ({"Payload": payload(b"{}")}, "Dispatch did not provide required meta keys: [run]"),
        (
            {"Payload": payload(b"{}"), "Meta": {"run": "1", "zzz": "2"}},
            "Dispatch provided unexpected meta keys: [zzz]",
        ),
        (
            {"Payload": payload(b"x" * 16385), "Meta": {"run": "1"}},
            "Payload exceeds maximum size; 16385 > 16384",
        ),
        ({"Payload": "not base64!", "Meta": {"run": "1"}}, "not valid base64"),
    ]
    for body, message in cases:
        answer = dispatch(engine, body)
        assert answer.status_code == 400 and message in answer.text, (body, answer.text)


def test_dispatched_children_run_once_and_are_counted(engine):
    requests.post(f"{engine.address}/v1/jobs", json={"Job": PARAMETERIZED}, timeout=5)
    answer = dispatch(engine, {"Payload": payload(b'{"lr": 0.1}'), "Meta": {"run": "7"}}, "t-1")
    assert answer.ok, answer.text
    child_id = answer.json()["DispatchedJobID"]
    assert child_id.startswith("train/dispatch-")
    child = requests.get(f"{engine.address}/v1/job/{child_id}", timeout=5).json()
    assert child["ParentID"] == "train" and child["Dispatched"] is True
    assert child["Meta"] == {"team": "ml", "run": "7"}
    assert base64.b64decode(child["Payload"]) == b'{"lr": 0.1}'
    # the same idempotency token gives back the same child
    again = dispatch(engine, {"Payload": payload(b"{}"), "Meta": {"run": "8"}}, "t-1")
    assert again.json()["DispatchedJobID"] == child_id
    # the parent is a template: no allocation, status running, children counted
    assert requests.get(f"{engine.address}/v1/job/train/allocations", timeout=5).json() == []
    parent = requests.get(f"{engine.address}/v1/job/train", timeout=5).json()
    assert parent["Status"] == "running"
    summary = requests.get(f"{engine.address}/v1/job/train/summary", timeout=5).json()
    assert sum(summary["Children"].values()) == 1
    # a job ID with "/" still reaches the suffixed endpoints
    allocs = requests.get(f"{engine.address}/v1/job/{child_id}/allocations", timeout=5)
    assert allocs.ok and len(allocs.json()) == 1


def test_only_parameterized_jobs_dispatch(engine):
    plain = {**PARAMETERIZED, "ID": "plain", "ParameterizedJob": None}
    requests.post(f"{engine.address}/v1/jobs", json={"Job": plain}, timeout=5)
    answer = requests.post(f"{engine.address}/v1/job/plain/dispatch", json={}, timeout=5)
    assert answer.status_code == 400
    assert 'Specified job "plain" is not a parameterized job' in answer.text
    missing = requests.post(f"{engine.address}/v1/job/nope/dispatch", json={}, timeout=5)
    assert missing.status_code == 404
