"""Garbage collection keeps a long-lived runtime small without forgetting what matters."""

from __future__ import annotations

import time

import requests

from mlctl.local.engine import NomadSim
from mlctl.local.engine.gc import HOUR, Thresholds, collect

SERVICE = {
    "ID": "web",
    "TaskGroups": [
        {
            "Name": "g",
            "Count": 2,
            "Update": {"MinHealthyTime": 1_000_000_000},
            "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": "web:1"}}],
        }
    ],
}
BATCH = {**SERVICE, "ID": "once", "Type": "batch", "Update": None}


def wait_for(check, what):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(what)


def test_old_terminal_objects_go_and_live_ones_stay():
    with NomadSim(time_scale=50) as sim:
        sim.start()
        base = sim.address
        requests.post(f"{base}/v1/jobs", json={"Job": SERVICE}, timeout=5)
        sim.set_behaviour("exit:0", job="once")
        requests.post(f"{base}/v1/jobs", json={"Job": BATCH}, timeout=5)
        wait_for(
            lambda: (
                requests.get(f"{base}/v1/job/web/deployment", timeout=5).json()["Status"]
                == "successful"
            ),
            "web to be deployed",
        )
        wait_for(
            lambda: requests.get(f"{base}/v1/job/once", timeout=5).json()["Status"] == "dead",
            "the batch job to finish",
        )
        requests.post(
            f"{base}/v1/job/web/scale", json={"Count": 1, "Target": {"Group": "g"}}, timeout=5
        )
        wait_for(
            lambda: len([a for a in sim.allocations("web") if a.desired_status == "stop"]) == 1,
            "a scaled-down allocation",
        )
        with sim.store.lock:
            assert collect(sim.cluster, Thresholds()) == 0  # nothing is an hour old yet
        sim.clock.advance(2 * HOUR)
        with sim.store.lock:
            collect(sim.cluster, Thresholds())
            live = [a for a in sim.cluster.allocs.values() if a.job_id == "web"]
            assert [a.desired_status for a in live] == ["run"]  # the stopped one went
            # the finished batch job is younger than job_gc_threshold: its result stays
            assert ("default", "once") in sim.cluster.jobs
            assert [a.client_status for a in sim.allocations("once")] == ["complete"] * 2
            latest = sim.cluster.latest_deployment(("default", "web"))
            assert latest is not None and latest["ID"] in sim.cluster.deployments
        sim.clock.advance(4 * HOUR)
        with sim.store.lock:
            collect(sim.cluster, Thresholds())
            assert ("default", "once") not in sim.cluster.jobs
            assert not sim.allocations("once")
            assert ("default", "web") in sim.cluster.jobs
