"""Health rules and the alert state machine, on snapshots built from documented shapes."""

from __future__ import annotations

from datetime import timedelta

from mlctl.bundle.alerts import Rules, merged_rules
from mlctl.monitor.alerts import AlertBook, fingerprint
from mlctl.monitor.rules import Condition, Context, evaluate
from mlctl.monitor.store import Snapshot, Store
from mlctl.monitor.views import EndpointView, ProbeMetrics
from tests.unit import monitor_objects as o

KEY = ("default", "mlctl-iris")


def store_with(allocs: list[dict], count: int = 2, **job: object) -> Store:
    store = Store()
    store.resync(
        "nodes",
        [o.node("n1", gpus=[("GPU-1", True)]), o.node("n2", "gpu-2")],
        5,
    )
    store.resync("jobs", [o.job(count=count, **job)], 10)  # type: ignore[arg-type]
    store.resync("allocs", allocs, 20)
    store.resync("deployments", [o.deployment(status="successful", healthy=count)], 30)
    store.resync("evals", [], 40)
    return store


def conditions(snap: Snapshot, minutes: float = 0, rules: Rules | None = None) -> list[Condition]:
    now = o.T0 + timedelta(minutes=minutes)
    return evaluate(Context(snap, now, lambda _m: rules or Rules()))


def names(found: list[Condition]) -> list[str]:
    return sorted(c.alertname for c in found)


def healthy_pair() -> list[dict]:
    return [o.alloc("a1", node_id="n1", gpu_ids=["GPU-1"]), o.alloc("a2", node_id="n2")]


def crashes(n: int, start_minute: float = 0) -> list[dict]:
    return [
        o.task_event("Terminated", o.T0 + timedelta(minutes=start_minute + i), exit_code=1)
        for i in range(n)
    ]


def test_a_healthy_model_raises_nothing() -> None:
    assert conditions(store_with(healthy_pair()).snapshot()) == []


def test_crash_loop_from_task_events_within_the_window() -> None:
    allocs = [o.alloc("a1", node_id="n1", events=crashes(3), restarts=3), o.alloc("a2")]
    snap = store_with(allocs).snapshot()
    found = [c for c in conditions(snap, minutes=3) if c.alertname == "ModelCrashLooping"]
    assert len(found) == 1
    crash = found[0]
    assert crash.labels["alloc"] == "a1" and crash.labels["node"] == "node-n1"
    assert crash.severity == "critical"
    assert "crashed 3 times in the last 10m" in crash.description
    # Twenty minutes later the crashes are outside the window: the condition is gone.
    assert "ModelCrashLooping" not in names(conditions(snap, minutes=25))


def test_crash_loop_threshold_comes_from_the_model_settings() -> None:
    allocs = [o.alloc("a1", events=crashes(3), restarts=3), o.alloc("a2")]
    snap = store_with(allocs).snapshot()
    strict = merged_rules(Rules(), {"crash_loop": {"restarts": 5}})
    assert "ModelCrashLooping" not in names(conditions(snap, 3, strict))


def test_failed_and_oom_killed_allocations() -> None:
    oom = [o.task_event("Terminated", o.T0, exit_code=137, oom=True)]
    allocs = [
        o.alloc("a1", client_status="failed", events=oom),
        o.alloc("a2"),
        o.alloc("a3"),
    ]
    found = names(conditions(store_with(allocs).snapshot()))
    assert "ModelAllocationFailed" in found and "ModelOOMKilled" in found


def test_under_replicated_is_critical_with_nothing_healthy() -> None:
    allocs = [o.alloc("a1", healthy=False), o.alloc("a2", healthy=None)]
    found = [c for c in conditions(store_with(allocs).snapshot()) if c.alertname.endswith("ted")]
    assert [(c.alertname, c.severity, c.for_seconds) for c in found] == [
        ("ModelUnderReplicated", "critical", 120.0)
    ]
    assert "wants 2 replicas but 2 run and 0 are healthy" in found[0].description


def test_stopped_models_want_nothing() -> None:
    assert conditions(store_with([], stop=True).snapshot()) == []


def test_deployment_failed_is_news_for_its_window() -> None:
    store = store_with(healthy_pair())
    failed = o.deployment("d9", status="failed", index=50, create_index=45)
    failed["StatusDescription"] = (
        "Failed due to unhealthy allocations - rolling back to job version 0"
    )
    store.apply("deployments", failed)
    store.apply("deployments", o.deployment("d10", status="successful", index=52, create_index=51))
    snap = store.snapshot()
    found = [c for c in conditions(snap) if c.alertname == "ModelDeploymentFailed"]
    assert len(found) == 1 and "Nomad reverted it" in found[0].summary
    assert "ModelDeploymentFailed" not in names(conditions(snap, minutes=16))


def test_canaries_waiting_and_placement_blocked() -> None:
    store = store_with(healthy_pair())
    store.apply(
        "deployments",
        o.deployment("d2", index=60, create_index=55, canaries=1, placed_canaries=1, healthy=1),
    )
    store.apply("evals", o.blocked_eval(index=61))
    found = {c.alertname: c for c in conditions(store.snapshot())}
    assert found["ModelCanariesWaiting"].for_seconds == 1800
    assert "mlctl promote iris" in found["ModelCanariesWaiting"].description
    assert "devices exhausted on 2 of 2 nodes" in found["ModelPlacementBlocked"].description


def test_node_down_and_unhealthy_gpu_name_the_model() -> None:
    store = store_with(healthy_pair())
    store.apply("nodes", o.node("n1", gpus=[("GPU-1", False)], index=70, drain=True))
    found = {c.alertname: c for c in conditions(store.snapshot())}
    assert found["NodeUnavailable"].labels["model"] == "iris"
    assert "is draining" in found["NodeUnavailable"].summary
    assert found["GPUUnhealthy"].labels["gpu"] == "GPU-1"


def test_probe_rules_latency_errors_and_unreachable() -> None:
    store = store_with(healthy_pair())
    store.set_endpoints(KEY, [EndpointView("iris", "a1", "127.0.0.1", 1)])
    probe = ProbeMetrics(
        at=o.T0, endpoints=2, reachable=1, ready=1, req_rate=10.0, error_rate=0.2,
        p50_ms=100.0, p99_ms=2500.0, in_flight=3.0, error="connection refused",
    )  # fmt: skip
    store.set_probe(KEY, probe)
    found = {c.alertname: c for c in conditions(store.snapshot())}
    assert set(found) == {"ModelEndpointUnreachable", "ModelLatencyHigh", "ModelErrorRateHigh"}
    assert "connection refused" in found["ModelEndpointUnreachable"].description
    quiet = merged_rules(Rules(), {"error_rate": {"min_rate": 50}, "latency": {"enabled": False}})
    assert names(conditions(store.snapshot(), rules=quiet)) == ["ModelEndpointUnreachable"]


# ---------------------------------------------------------------------- the alert book


def condition(for_seconds: float = 0.0, detail: str = "x") -> Condition:
    return Condition(
        "ModelCrashLooping",
        {"model": "iris", "namespace": "default", "job": "mlctl-iris", "alloc": "a1"},
        "iris is crash-looping",
        f"details {detail}",
        for_seconds,
        "critical",
    )


def test_fingerprint_is_alertmanagers() -> None:
    # Alertmanager's model.LabelSet{} and {"foo": "bar"} fingerprints (FNV-1a 64).
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"a": "b"}) != fingerprint({"a": "c"})
    assert fingerprint({"a": "b", "c": "d"}) == fingerprint({"c": "d", "a": "b"})


def test_an_alert_fires_after_its_for_and_resolves_when_the_condition_clears() -> None:
    book = AlertBook()
    assert book.update([condition(60)], o.T0) == []  # pending
    assert book.alerts() == []
    fired = book.update([condition(60)], o.T0 + timedelta(seconds=61))
    assert [t.kind for t in fired] == ["firing"]
    alert = fired[0].alert
    assert alert.status == "firing" and alert.starts_at == o.T0 + timedelta(seconds=61)
    assert alert.labels["alertname"] == "ModelCrashLooping" and alert.labels["severity"]
    assert book.update([condition(60, "y")], o.T0 + timedelta(seconds=90)) == []
    assert book.alerts()[0].annotations["description"] == "details y"
    resolved = book.update([], o.T0 + timedelta(seconds=120))
    assert [t.kind for t in resolved] == ["resolved"]
    assert resolved[0].alert.ends_at == o.T0 + timedelta(seconds=120)
    assert resolved[0].alert.fingerprint == alert.fingerprint


def test_a_pending_alert_that_clears_is_never_told() -> None:
    book = AlertBook()
    book.update([condition(60)], o.T0)
    assert book.update([], o.T0 + timedelta(seconds=30)) == []
    assert book.alerts() == []


def test_resolved_alerts_expire_and_a_new_episode_is_a_new_alert() -> None:
    book = AlertBook(resolved_retention=timedelta(minutes=10))
    book.update([condition()], o.T0)
    book.update([], o.T0 + timedelta(minutes=1))
    again = book.update([condition()], o.T0 + timedelta(minutes=2))
    assert [t.kind for t in again] == ["firing"]
    assert again[0].alert.starts_at == o.T0 + timedelta(minutes=2)
    book.update([], o.T0 + timedelta(minutes=3))
    book.update([], o.T0 + timedelta(minutes=20))
    assert book.alerts() == []


def test_the_book_survives_a_restart() -> None:
    book = AlertBook()
    book.update([condition()], o.T0)
    restored = AlertBook()
    restored.load(book.dump())
    assert restored.update([condition()], o.T0 + timedelta(seconds=5)) == []  # no re-fire
    assert [t.kind for t in restored.update([], o.T0 + timedelta(seconds=9))] == ["resolved"]
