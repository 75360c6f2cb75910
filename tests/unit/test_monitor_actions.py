"""The actions planner (pure): bounds, cool-downs, sustained load, never twice."""

from __future__ import annotations

from datetime import timedelta

from mlctl.bundle.alerts import Actions
from mlctl.monitor.actions import Action, History, Planner, record, still_allowed
from mlctl.monitor.alerts import fingerprint
from mlctl.monitor.store import Store
from mlctl.monitor.views import Alert, ModelView, ProbeMetrics, frozen_map
from tests.unit import monitor_objects as o

KEY = ("default", "mlctl-iris")


def model(count: int = 2, **probe: float) -> ModelView:
    store = Store()
    store.resync("jobs", [o.job(count=count)], 10)
    store.resync("allocs", [o.alloc("a1"), o.alloc("a2", node_id="n2")][:count], 20)
    store.resync("deployments", [], 30)
    if probe:
        store.set_probe(KEY, ProbeMetrics(at=o.T0 + timedelta(seconds=probe.pop("t", 0)),
                                          endpoints=count, reachable=count, ready=count,
                                          **probe))  # fmt: skip
    view = store.snapshot().models[KEY]
    return view


def crash_alert(alloc: str = "a1") -> Alert:
    labels = {"alertname": "ModelCrashLooping", "namespace": "default", "job": "mlctl-iris",
              "model": "iris", "alloc": alloc, "severity": "critical"}  # fmt: skip
    return Alert(frozen_map(labels), frozen_map({"description": "crashed"}), o.T0, None,
                 fingerprint(labels))  # fmt: skip


def actions(**data: object) -> Actions:
    return Actions.model_validate(data)


def test_restart_is_bounded_and_cooled_down() -> None:
    planner, history = Planner(), History()
    config = actions(restart={"max_restarts": 2, "cooldown": "5m"})
    plan = planner.plan([model()], [crash_alert()], o.T0, lambda _m: config, lambda _k: history)
    assert [(a.kind, a.alloc_id) for a in plan] == [("restart", "a1")]
    history = record(history, plan[0], o.T0)
    again = planner.plan([model()], [crash_alert()], o.T0 + timedelta(minutes=1),
                         lambda _m: config, lambda _k: history)  # fmt: skip
    assert again == []  # cooling down
    later = o.T0 + timedelta(minutes=6)
    (second,) = planner.plan([model()], [crash_alert()], later, lambda _m: config,
                             lambda _k: history)  # fmt: skip
    history = record(history, second, later)
    assert planner.plan([model()], [crash_alert()], later + timedelta(hours=1),
                        lambda _m: config, lambda _k: history) == []  # bound reached  # fmt: skip


def test_nothing_happens_without_opting_in() -> None:
    plan = Planner().plan([model()], [crash_alert()], o.T0, lambda _m: Actions(),
                          lambda _k: History())  # fmt: skip
    assert plan == []


def test_scale_up_needs_sustained_load_and_respects_max_and_cooldown() -> None:
    planner = Planner()
    config = actions(scale={"min": 1, "max": 3, "in_flight_above": 4, "intervals": 3,
                            "cooldown": "1m"})  # fmt: skip
    history = History()
    plans = []
    for n in range(3):
        busy = model(in_flight=20.0, t=n)
        plans.append(planner.plan([busy], [], o.T0, lambda _m: config, lambda _k: history))
    assert plans[0] == [] and plans[1] == []
    (up,) = plans[2]
    assert (up.kind, up.count, up.group) == ("scale", 3, "model")
    assert "sustained load for 3 probes" in up.reason
    history = record(history, up, o.T0)
    assert planner.plan([model(in_flight=20.0, t=9)], [], o.T0 + timedelta(seconds=30),
                        lambda _m: config, lambda _k: history) == []  # fmt: skip


def test_scale_down_to_min_after_quiet_probes_but_never_a_stopped_model() -> None:
    planner = Planner()
    config = actions(scale={"min": 1, "max": 3, "in_flight_above": 4, "intervals": 2})
    for n in range(2):
        plan = planner.plan([model(in_flight=0.0, t=n)], [], o.T0, lambda _m: config,
                            lambda _k: History())  # fmt: skip
    assert [(a.kind, a.count) for a in plan] == [("scale", 1)]
    stopped = model(count=0, in_flight=0.0)
    for _ in range(3):
        assert planner.plan([stopped], [], o.T0, lambda _m: config, lambda _k: History()) == []


def test_still_allowed_rechecks_fresh_history() -> None:
    config = actions(restart={"max_restarts": 1})
    action = Action("restart", KEY, "iris", "crash", alloc_id="a1")
    assert still_allowed(History(), action, o.T0, config)
    done = record(History(), action, o.T0)
    assert not still_allowed(done, action, o.T0 + timedelta(days=1), config)
