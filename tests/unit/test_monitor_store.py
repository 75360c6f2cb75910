"""The monitor's Store: dedupe by ModifyIndex, resync semantics, cheap immutable snapshots."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mlctl.monitor.store import Store
from mlctl.monitor.views import EndpointView
from tests.unit import monitor_objects as o


def loaded_store() -> Store:
    store = Store()
    store.resync("nodes", [o.node("n1", gpus=[("GPU-1", True)]), o.node("n2", "gpu-2")], 5)
    store.resync("jobs", [o.job(count=2)], 10)
    store.resync(
        "allocs",
        [o.alloc("a1", node_id="n1", gpu_ids=["GPU-1"]), o.alloc("a2", node_id="n2")],
        20,
    )
    store.resync("deployments", [o.deployment(status="successful", healthy=2)], 30)
    store.resync("evals", [], 40)
    return store


def test_model_view_counts_desired_running_and_healthy() -> None:
    snap = loaded_store().snapshot()
    model = snap.models[("default", "mlctl-iris")]
    assert (model.name, model.desired, model.running, model.healthy) == ("iris", 2, 2, 2)
    assert model.deployment is not None and model.deployment.status == "successful"
    assert [a.id for a in model.allocations] == ["a1", "a2"]
    assert model.managed and model.model_version == "1.0.0"
    assert snap.synced and snap.index == 40


def test_an_object_not_newer_than_the_store_is_ignored() -> None:
    store = loaded_store()
    assert not store.apply("allocs", o.alloc("a1", index=20, client_status="failed"))
    assert not store.apply("allocs", o.alloc("a1", index=19, client_status="failed"))
    assert store.snapshot().allocations["a1"].client_status == "running"
    assert store.apply("allocs", o.alloc("a1", index=21, client_status="failed"))
    assert store.snapshot().allocations["a1"].client_status == "failed"


def test_events_replayed_twice_apply_once() -> None:
    store = loaded_store()
    event = o.event("Allocation", "AllocationUpdated", "Allocation", o.alloc("a2", index=50))
    before = store.version
    assert store.apply_event(event)
    assert not store.apply_event(event)
    assert store.version == before + 1
    assert store.index == 50


def test_resync_removes_what_the_listing_lacks_and_keeps_stale_copies_out() -> None:
    store = loaded_store()
    store.resync("allocs", [o.alloc("a1", node_id="n1", gpu_ids=["GPU-1"])], 60)
    assert set(store.snapshot().allocations) == {"a1"}
    # A late event for the deleted allocation (older than the listing) must not revive it.
    assert not store.apply("allocs", o.alloc("a2", index=55))
    assert "a2" not in store.snapshot().allocations
    # An object created after the listing is new, whatever the order we learn it in.
    assert store.apply("allocs", o.alloc("a3", index=61))
    assert "a3" in store.snapshot().allocations


def test_resync_keeps_objects_newer_than_the_listing() -> None:
    store = loaded_store()
    store.apply("allocs", o.alloc("a9", index=70))
    store.resync("allocs", [o.alloc("a1"), o.alloc("a2")], 65)
    assert "a9" in store.snapshot().allocations


def test_a_deleted_node_stays_deleted_when_an_older_copy_arrives() -> None:
    store = loaded_store()
    gone = o.event("Node", "NodeDeregistration", "Node", o.node("n2", "gpu-2", index=3), 80)
    assert store.apply_event(gone)
    assert not store.apply("nodes", o.node("n2", "gpu-2", index=70))
    assert "n2" not in store.snapshot().nodes


def test_snapshot_is_cached_and_shares_unchanged_views() -> None:
    store = loaded_store()
    store.apply("jobs", o.job("mlctl-other", index=11, count=1))
    first = store.snapshot()
    assert store.snapshot() is first
    store.apply("allocs", o.alloc("b1", job_id="mlctl-other", index=90))
    second = store.snapshot()
    assert second is not first and second.version > first.version
    iris = ("default", "mlctl-iris")
    assert second.models[iris] is first.models[iris]  # untouched model: same object
    assert second.models[("default", "mlctl-other")].running == 1
    assert first.models[("default", "mlctl-other")].running == 0  # old snapshot unchanged


def test_snapshot_mappings_are_read_only() -> None:
    snap = loaded_store().snapshot()
    with pytest.raises(TypeError):
        snap.models[("x", "y")] = snap.models[("default", "mlctl-iris")]  # type: ignore[index]
    with pytest.raises(TypeError):
        del snap.allocations["a1"]  # type: ignore[attr-defined]


def test_node_view_sums_allocated_resources_and_names_gpu_holders() -> None:
    store = loaded_store()
    node = store.snapshot().nodes["n1"]
    assert (node.cpu_allocated, node.memory_allocated) == (500, 512)
    assert [(g.id, g.alloc_id, g.healthy) for g in node.gpus] == [("GPU-1", "a1", True)]
    store.apply("allocs", o.alloc("a1", node_id="n1", index=91, client_status="complete"))
    node = store.snapshot().nodes["n1"]
    assert node.cpu_allocated == 0 and node.gpus[0].alloc_id is None


def test_blocked_evaluation_is_explained_in_plain_words_and_cleared() -> None:
    store = loaded_store()
    store.apply("jobs", o.job(count=3, index=95, gpus=1))
    store.apply("evals", o.blocked_eval(index=96))
    blocked = store.snapshot().models[("default", "mlctl-iris")].blocked
    assert blocked is not None
    assert "no node has 1 free nvidia/gpu with memory >= 16000 MiB" in blocked.reason
    assert "devices exhausted on 2 of 2 nodes" in blocked.reason
    store.apply("evals", {**o.blocked_eval(index=97), "Status": "complete"})
    assert store.snapshot().models[("default", "mlctl-iris")].blocked is None


def test_crash_history_survives_task_events_sliding_out() -> None:
    store = loaded_store()
    crash1 = o.task_event("Terminated", o.T0 + timedelta(seconds=10), exit_code=1)
    crash2 = o.task_event("Terminated", o.T0 + timedelta(seconds=20), exit_code=1)
    store.apply("allocs", o.alloc("a1", index=100, events=[crash1], restarts=1))
    store.apply("allocs", o.alloc("a1", index=101, events=[crash2], restarts=2))
    view = store.snapshot().allocations["a1"]
    assert len(view.crash_times) == 2 and view.restarts == 2


def test_user_restarts_and_clean_exits_are_not_crashes() -> None:
    store = loaded_store()
    events = [
        o.task_event("Restart Signaled", o.T0),
        o.task_event("Terminated", o.T0, exit_code=0),
        o.task_event("Terminated", o.T0 + timedelta(seconds=1), exit_code=137, oom=True),
    ]
    store.apply("allocs", o.alloc("a1", index=102, events=events))
    view = store.snapshot().allocations["a1"]
    assert len(view.crash_times) == 1 and view.oom_killed


def test_latest_deployment_wins_whatever_the_arrival_order() -> None:
    store = loaded_store()
    store.apply("deployments", o.deployment("d2", status="running", index=120, create_index=110))
    store.apply("deployments", o.deployment("d1", status="failed", index=121, create_index=25))
    dep = store.snapshot().models[("default", "mlctl-iris")].deployment
    assert dep is not None and (dep.id, dep.status) == ("d2", "running")


def test_canaries_awaiting_promotion() -> None:
    store = loaded_store()
    store.apply(
        "deployments",
        o.deployment("d3", index=130, create_index=125, canaries=1, placed_canaries=1, healthy=1),
    )
    dep = store.snapshot().models[("default", "mlctl-iris")].deployment
    assert dep is not None and dep.awaiting_promotion and dep.canaries_healthy == 1


def test_subscribers_get_published_snapshots_until_they_unsubscribe() -> None:
    store = loaded_store()
    seen: list[int] = []
    unsubscribe = store.subscribe(lambda snap: seen.append(snap.version))
    assert store.publish() is not None
    assert store.publish() is None  # nothing new
    store.set_endpoints(("default", "mlctl-iris"), [EndpointView("iris", "a1", "127.0.0.1", 1)])
    store.publish()
    unsubscribe()
    store.set_endpoints(("default", "mlctl-iris"), [])
    store.publish()
    assert len(seen) == 2


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    store = loaded_store()
    seen: list[int] = []

    def broken(_snapshot: object) -> None:
        raise RuntimeError("reader bug")

    store.subscribe(broken)
    store.subscribe(lambda snap: seen.append(snap.version))
    with pytest.raises(RuntimeError):
        store.publish()
    assert seen


def test_disconnected_since_is_the_first_loss() -> None:
    store = Store()
    store.set_connection(False, "connecting", at=o.T0)
    store.set_connection(False, "connecting", at=o.T0 + timedelta(seconds=30))
    assert store.snapshot().disconnected_since == o.T0
    store.set_connection(True, "stream")
    snap = store.snapshot()
    assert snap.connected and snap.disconnected_since is None and snap.mode == "stream"


def test_a_stopped_job_wants_no_replicas() -> None:
    store = loaded_store()
    store.apply("jobs", o.job(index=140, stop=True, status="dead"))
    model = store.snapshot().models[("default", "mlctl-iris")]
    assert model.stopped and model.desired == 0


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        Store().resync("volumes", [], 1)
