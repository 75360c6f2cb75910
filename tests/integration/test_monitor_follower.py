"""The follower against the engine over real HTTP: it keeps the Store exact through cut
streams (also mid-frame), resume indexes that fell out of the buffer, 5xx answers,
expiring tokens, refused streams (polling) and dead streams."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from mlctl.monitor.clock import utc_now
from mlctl.monitor.follower import Follower, FollowerOptions
from mlctl.monitor.store import Store
from mlctl.monitor.tokens import MintedToken, StaticToken, TokenSource
from mlctl.nomad.client import connect
from mlctl.nomad.retry import read_retry
from mlctl.settings import Settings
from tests.integration.monitor_support import (
    create_namespace,
    create_policy,
    create_token,
    headers,
    register_model,
    wait_for,
)
from tests.simulators.nomad.fixtures import NomadHandle, SimFactory, require_sim

FAST = FollowerOptions(
    heartbeat_timeout=5.0, poll_wait=1.0, stream_retry=3600, backoff_base=0.05, backoff_cap=0.3
)
MONITOR_POLICY = """
namespace "*" {
  policy = "read"
}
node {
  policy = "read"
}
"""
TEAM_POLICY = 'namespace "default" { policy = "read" }\nnode { policy = "read" }\n'


@dataclass
class Running:
    store: Store
    follower: Follower
    log: list[str]


def connector(handle: NomadHandle) -> Any:
    settings = Settings(nomad_addr=handle.address)

    def make(token: str | None) -> Any:
        return connect(settings, token=token, retry=read_retry(attempts=0), timeout=10)

    return make


@contextmanager
def following(
    handle: NomadHandle, tokens: TokenSource | None = None, options: FollowerOptions = FAST
) -> Iterator[Running]:
    store = Store()
    log: list[str] = []
    follower = Follower(
        store,
        connector(handle),
        tokens or StaticToken(handle.management_token),
        utc_now,
        log.append,
        options,
    )
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield Running(store, follower, log)
    finally:
        stop.set()
        thread.join(timeout=15)


def truth(handle: NomadHandle) -> dict[str, Any]:
    """What Nomad says, in the Store's terms."""

    def get(path: str, **params: str) -> Any:
        answer = requests.get(
            f"{handle.address}{path}",
            params=params,
            headers=headers(handle.management_token),
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()

    return {
        "allocs": {a["ID"]: a["ModifyIndex"] for a in get("/v1/allocations", namespace="*")},
        "jobs": {(j["Namespace"], j["ID"]) for j in get("/v1/jobs", namespace="*")},
        "nodes": {n["ID"] for n in get("/v1/nodes")},
    }


def mirrors(store: Store, handle: NomadHandle) -> bool:
    want = truth(handle)
    snap = store.snapshot()
    have = {a.id: a.modify_index for a in snap.allocations.values()}
    return bool(
        snap.synced
        and have == want["allocs"]
        and set(snap.models) == want["jobs"]
        and set(snap.nodes) == want["nodes"]
    )


def healthy(store: Store, name: str, count: int) -> bool:
    model = store.snapshot().model(name)
    return bool(model and model.healthy == count and len(model.endpoints) == count)


def test_follows_models_allocations_and_endpoints(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory()
    with following(handle) as run:
        wait_for(lambda: run.store.snapshot().synced, "the first snapshot")
        register_model(handle, "iris", count=2)
        wait_for(lambda: healthy(run.store, "iris", 2), "iris healthy with 2 endpoints")
        snap = run.store.snapshot()
        model = snap.model("iris")
        assert model is not None and model.deployment is not None
        assert snap.connected and snap.mode == "stream"
        assert {e.alloc_id for e in model.endpoints} == {a.id for a in model.live_allocations}
        wait_for(lambda: mirrors(run.store, handle), "the store to mirror Nomad")


def test_a_stream_cut_mid_frame_reconnects_and_loses_nothing(
    nomad_sim_factory: SimFactory,
) -> None:
    handle = nomad_sim_factory(event_buffer_size=5)
    sim = require_sim(handle)
    with following(handle) as run:
        wait_for(lambda: run.store.snapshot().connected, "the stream")
        connects = run.follower.stats.connects
        sim.stall_event_streams()  # the monitor hears nothing while Nomad changes a lot
        for n in range(6):
            register_model(handle, f"m{n}")
        sim.cut_event_streams(mid_line=True)
        wait_for(lambda: run.follower.stats.connects > connects, "a reconnect")
        wait_for(lambda: mirrors(run.store, handle), "the resync to find every change")
        assert any("connection dropped mid-stream" in line for line in run.log)


def test_resuming_from_an_index_older_than_the_buffer_is_caught_by_the_resync(
    nomad_sim_factory: SimFactory,
) -> None:
    handle = nomad_sim_factory(event_buffer_size=3)
    sim = require_sim(handle)
    with following(handle) as run:
        wait_for(lambda: run.store.snapshot().connected, "the stream")
        resumed_from = run.store.index
        sim.stall_event_streams()
        for n in range(5):
            register_model(handle, f"gap{n}", count=2)
        with sim.store.lock:
            assert sim.store.event_buffer.head is not None
            assert sim.store.event_buffer.head.index > resumed_from + 1  # events really dropped
        sim.cut_event_streams()
        wait_for(lambda: mirrors(run.store, handle), "the missed changes")
        for n in range(5):
            wait_for(lambda n=n: healthy(run.store, f"gap{n}", 2), f"gap{n} healthy")


def test_nomad_answering_500s_for_a_while(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory()
    sim = require_sim(handle)
    with following(handle) as run:
        wait_for(lambda: run.store.snapshot().connected, "the stream")
        sim.inject_fault(status=500, message="rpc error: No cluster leader", method="GET")
        sim.cut_event_streams()
        wait_for(
            lambda: "No cluster leader" in run.store.snapshot().last_error, "the failing retries"
        )
        lost = run.store.snapshot()
        assert not lost.connected and lost.disconnected_since is not None
        register_model(handle, "during-outage")  # Nomad changes while it answers reads 500
        sim.clear_faults()
        wait_for(lambda: run.store.snapshot().connected, "the recovery")
        wait_for(lambda: mirrors(run.store, handle), "the changes made meanwhile")
        assert run.store.snapshot().disconnected_since is None


def test_a_token_expiring_mid_stream_is_renewed(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory(acl=True)
    sim = require_sim(handle)
    create_policy(handle, "monitor", MONITOR_POLICY)
    minted: list[str] = []

    def mint() -> str:
        minted.append(str(create_token(handle, ["monitor"], ttl="5m")["SecretID"]))
        return minted[-1]

    with following(handle, MintedToken(mint)) as run:
        wait_for(lambda: run.store.snapshot().connected, "the stream")
        sim.advance(400)  # the token expires; Nomad tells us before the next events
        register_model(handle, "after-expiry")
        wait_for(lambda: len(minted) >= 2, "a fresh token")
        wait_for(lambda: run.store.snapshot().model("after-expiry"), "events after renewal")
        assert any("ACL token expired" in line for line in run.log)


def test_a_deleted_token_closes_the_subscription_and_a_new_one_resubscribes(
    nomad_sim_factory: SimFactory,
) -> None:
    handle = nomad_sim_factory(acl=True)
    create_policy(handle, "monitor", MONITOR_POLICY)
    tokens: list[dict[str, Any]] = []

    def mint() -> str:
        tokens.append(create_token(handle, ["monitor"]))
        return str(tokens[-1]["SecretID"])

    with following(handle, MintedToken(mint)) as run:
        wait_for(lambda: run.store.snapshot().connected, "the stream")
        requests.delete(
            f"{handle.address}/v1/acl/token/{tokens[0]['AccessorID']}",
            headers=headers(handle.management_token),
            timeout=5,
        ).raise_for_status()
        wait_for(lambda: len(tokens) >= 2, "a resubscription with a new token")
        register_model(handle, "after-close")
        wait_for(lambda: run.store.snapshot().model("after-close"), "events after resubscribing")
        assert any("subscription closed by server" in line for line in run.log)


def test_a_refused_stream_falls_back_to_blocking_query_polling(
    nomad_sim_factory: SimFactory,
) -> None:
    handle = nomad_sim_factory(acl=True)
    create_namespace(handle, "team-b")
    create_policy(handle, "team", TEAM_POLICY)
    token = create_token(handle, ["team"])["SecretID"]
    with following(handle, StaticToken(token)) as run:
        wait_for(lambda: run.store.snapshot().mode == "polling", "polling mode")
        register_model(handle, "polled", count=2)
        register_model(handle, "hidden", namespace="team-b")
        wait_for(lambda: healthy(run.store, "polled", 2), "changes seen by polling")
        assert run.store.snapshot().model("hidden", "team-b") is None  # not readable
        assert any("Permission denied" in line for line in run.log)


def test_a_silent_stream_is_declared_dead_and_reconnected(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory()
    sim = require_sim(handle)
    options = FollowerOptions(heartbeat_timeout=1.5, backoff_base=0.05, backoff_cap=0.2)
    with following(handle, options=options) as run:
        wait_for(lambda: run.store.snapshot().connected, "the stream")
        connects = run.follower.stats.connects
        sim.stall_event_streams()
        wait_for(lambda: run.follower.stats.connects > connects, "a reconnect after silence")
        assert any("stream dead" in line for line in run.log)


def test_a_purged_job_leaves_the_store(nomad_sim_factory: SimFactory) -> None:
    handle = nomad_sim_factory()
    with following(handle) as run:
        register_model(handle, "gone")
        wait_for(lambda: run.store.snapshot().model("gone"), "the model")
        requests.delete(
            f"{handle.address}/v1/job/mlctl-gone", params={"purge": "true"}, timeout=5
        ).raise_for_status()
        wait_for(lambda: run.store.snapshot().model("gone") is None, "the purge")
