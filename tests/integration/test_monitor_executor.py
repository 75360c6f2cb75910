"""The executor against the engine: history first with check-and-set, a refusal for a
passing reason (a deployment is running) is taken back and retried, never lost."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlctl.bundle.alerts import Actions
from mlctl.monitor.actions import Action
from mlctl.monitor.executor import Executor
from mlctl.monitor.varstore import Variables
from tests.integration.monitor_support import register_model, wait_for
from tests.integration.test_monitor_follower import connector
from tests.simulators.nomad.fixtures import SimFactory, require_sim

KEY = ("default", "mlctl-iris")
SCALE = Action("scale", KEY, "iris", "load", group="model", count=2)
CONFIG = Actions.model_validate({"scale": {"min": 1, "max": 3, "in_flight_above": 1}})


def test_scaling_during_a_deployment_is_deferred_then_done(
    nomad_sim_factory: SimFactory, tmp_path: Path
) -> None:
    handle = nomad_sim_factory(time_scale=1.0)  # the deployment stays running a while
    sim = require_sim(handle)
    register_model(handle, "iris", min_healthy="2m")
    client = connector(handle)(None)
    log: list[dict[str, Any]] = []
    executor = Executor(
        Variables(lambda: client, "default"),
        lambda: client,
        lambda: datetime.now(UTC),
        lambda kind, **fields: log.append({"kind": kind, **fields}),
    )
    wait_for(lambda: sim.cluster.active_deployment(KEY), "a running deployment")
    assert executor.run(SCALE, CONFIG).startswith("deferred: a deployment is running")
    assert executor.history(KEY).scaled_at is None  # taken back: the next try is allowed
    sim.advance(300)  # the deployment finishes
    wait_for(lambda: sim.cluster.active_deployment(KEY) is None, "the deployment to end")
    assert executor.run(SCALE, CONFIG) == "done: count 2"
    assert sim.cluster.jobs[KEY]["TaskGroups"][0]["Count"] == 2
    assert executor.run(SCALE, CONFIG) == "skipped"  # within the cool-down: never twice
    assert [r["result"].split(":")[0] for r in log] == ["deferred", "done"]


def test_a_second_executor_sees_the_first_ones_history(
    nomad_sim_factory: SimFactory,
) -> None:
    handle = nomad_sim_factory()
    register_model(handle, "iris")
    client = connector(handle)(None)
    sim = require_sim(handle)
    wait_for(lambda: sim.cluster.active_deployment(KEY) is None
             and sim.allocations("mlctl-iris"), "iris deployed")  # fmt: skip

    def executor() -> Executor:
        return Executor(Variables(lambda: client, "default"), lambda: client,
                        lambda: datetime.now(UTC), lambda *_a, **_k: None)  # fmt: skip

    assert executor().run(SCALE, CONFIG) == "done: count 2"
    assert executor().run(SCALE, CONFIG) == "skipped"  # e.g. the monitor after a restart
