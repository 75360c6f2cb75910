"""The engine's event stream behaves like Nomad's where clients must cope with it:
a small buffer that silently skips old indexes, heartbeats, ACL refusals and forced
closes, cuts (also mid-frame), stalls, and steered 5xx answers."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import requests

from mlctl.local.engine.event_buffer import EventBuffer
from mlctl.local.engine.store import Event
from tests.integration.monitor_support import (
    create_policy,
    create_token,
    headers,
    register_model,
    wait_for,
)
from tests.simulators.nomad.fixtures import NomadHandle, SimFactory, require_sim

MONITOR_POLICY = 'namespace "*" { policy = "read" }\nnode { policy = "read" }\n'
TEAM_POLICY = 'namespace "team-a" { policy = "read" }\nnode { policy = "read" }\n'


def _event(index: int) -> Event:
    return Event("Job", "JobRegistered", f"j{index}", "default", index, {})


def test_buffer_keeps_the_last_n_indexes_and_old_resumes_start_at_the_oldest() -> None:
    buffer = EventBuffer(size=3)
    for index in range(1, 8):
        buffer.append(_event(index))
    assert [e.index for e in buffer.events()] == [5, 6, 7]
    assert [item.index for item in buffer.subscribe(2).take()] == [5, 6, 7]
    assert [item.index for item in buffer.subscribe(6).take()] == [6, 7]
    beyond = buffer.subscribe(99)  # Nomad starts at the newest item it holds
    assert [item.index for item in beyond.take()] == [7]
    buffer.append(_event(8))
    assert [item.index for item in beyond.take()] == [8]


def test_a_connected_subscriber_loses_nothing_to_trimming() -> None:
    buffer = EventBuffer(size=2)
    buffer.append(_event(1))
    cursor = buffer.subscribe(0)
    assert [i.index for i in cursor.take()] == [1]
    for index in range(2, 12):
        buffer.append(_event(index))
    assert [i.index for i in cursor.take()] == list(range(2, 12))


def test_a_cursor_on_an_empty_buffer_sees_the_first_event() -> None:
    buffer = EventBuffer(size=2)
    cursor = buffer.subscribe(0)
    buffer.append(_event(4))
    buffer.append(_event(4))
    assert [(i.index, len(i.events)) for i in cursor.take()] == [(4, 2)]


def _lines(
    address: str,
    params: list[tuple[str, str]],
    token: str | None,
    stop: Any,
    timeout: float = 30.0,
) -> list[bytes]:
    out: list[bytes] = []
    with requests.get(
        f"{address}/v1/event/stream",
        params=params,
        headers=headers(token),
        stream=True,
        timeout=timeout,
    ) as response:
        assert response.status_code == 200
        for raw in response.iter_lines():
            out.append(raw)
            if stop(out):
                break
    return out


def test_resume_from_an_index_older_than_the_buffer_skips_silently(
    nomad_sim_factory: SimFactory,
) -> None:
    handle = nomad_sim_factory(event_buffer_size=5)
    for n in range(4):
        register_model(handle, f"m{n}")
    sim = require_sim(handle)
    with sim.store.lock:
        oldest = sim.store.event_buffer.head
        assert oldest is not None and oldest.index > 2
        expected_first = oldest.index
    lines = _lines(handle.address, [("index", "1")], None, lambda out: bool(out))
    first = json.loads(lines[0])
    # Indexes 1 .. expected_first - 1 are gone: no error, the stream simply starts at the
    # oldest index still held (later, if allocations kept changing meanwhile).
    assert first["Index"] >= expected_first > 2


def test_heartbeats_arrive_on_an_idle_stream(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory(time_scale=200.0)
    lines = _lines(handle.address, [("topic", "Job")], None, lambda out: b"{}" in out)
    assert b"{}" in lines


def test_a_subscription_the_policies_do_not_allow_is_refused_with_500(
    nomad_sim_factory: SimFactory,
) -> None:
    handle = nomad_sim_factory(acl=True)
    create_policy(handle, "team", TEAM_POLICY)
    token = create_token(handle, ["team"])["SecretID"]
    refused = requests.get(
        f"{handle.address}/v1/event/stream",
        params=[("namespace", "*"), ("topic", "Job")],
        headers=headers(token),
        timeout=10,
    )
    assert (refused.status_code, refused.text) == (500, "Permission denied")
    unknown = requests.get(
        f"{handle.address}/v1/event/stream",
        headers=headers("00000000-0000-0000-0000-000000000000"),
        timeout=10,
    )
    assert unknown.status_code == 403


def _stream_until_text(handle: NomadHandle, token: str, action: Any) -> bytes:
    """Open a stream, run ``action`` once it is flowing, return the last line."""
    done = threading.Event()

    def stop(out: list[bytes]) -> bool:
        if not done.is_set():
            done.set()
            threading.Thread(target=action, daemon=True).start()
        return not out[-1].startswith(b"{")

    lines = _lines(
        handle.address,
        [("namespace", "*"), ("topic", "Job"), ("topic", "Node"), ("index", "1")],
        token,
        stop,
    )
    return lines[-1]


def test_deleting_the_token_closes_the_subscription(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory(acl=True)
    create_policy(handle, "monitor", MONITOR_POLICY)
    token = create_token(handle, ["monitor"])

    def delete() -> None:
        requests.delete(
            f"{handle.address}/v1/acl/token/{token['AccessorID']}",
            headers=headers(handle.management_token),
            timeout=5,
        ).raise_for_status()

    last = _stream_until_text(handle, token["SecretID"], delete)
    assert last == b"subscription closed by server, client should resubscribe"


def test_an_expired_token_ends_the_stream_before_the_next_events(
    nomad_sim_factory: SimFactory,
) -> None:
    handle = nomad_sim_factory(acl=True)
    sim = require_sim(handle)
    create_policy(handle, "monitor", MONITOR_POLICY)
    token = create_token(handle, ["monitor"], ttl="2m")

    def expire_then_change() -> None:
        sim.advance(180)
        register_model(handle, "after-expiry")

    last = _stream_until_text(handle, token["SecretID"], expire_then_change)
    assert last == b"ACL token expired"


def test_a_cut_mid_frame_drops_the_connection(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory()
    sim = require_sim(handle)
    register_model(handle, "iris")
    received: list[bytes] = []
    with (
        pytest.raises(requests.exceptions.ChunkedEncodingError),
        requests.get(
            f"{handle.address}/v1/event/stream", params={"index": "1"}, stream=True, timeout=30
        ) as response,
    ):
        for chunk in response.iter_content(chunk_size=None):
            received.append(chunk)
            if len(received) == 1:
                sim.cut_event_streams(mid_line=True)
    assert not b"".join(received).endswith(b"\n")


def test_a_stalled_stream_sends_nothing_until_released(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory(time_scale=500.0)
    sim = require_sim(handle)
    sim.stall_event_streams()
    # Not one heartbeat in 1 s of real time (500 simulated seconds): the read times out.
    with pytest.raises(requests.exceptions.ConnectionError):
        _lines(handle.address, [("topic", "Job")], None, lambda out: True, timeout=1.0)
    sim.stall_event_streams(False)


def test_steered_faults_answer_errors_then_recover(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory()
    sim = require_sim(handle)
    sim.inject_fault(status=500, count=2, prefix="/v1/jobs")
    codes = [requests.get(f"{handle.address}/v1/jobs", timeout=5).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    assert requests.get(f"{handle.address}/v1/nodes", timeout=5).status_code == 200
    sim.inject_fault(status=500, seconds=60)
    assert requests.get(f"{handle.address}/v1/nodes", timeout=5).text.startswith("rpc error")
    sim.advance(61)
    wait_for(
        lambda: requests.get(f"{handle.address}/v1/nodes", timeout=5).status_code == 200,
        "the fault to expire",
    )
