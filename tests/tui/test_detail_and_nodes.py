"""Model detail and Nodes against the simulator: rollback to a chosen version, stopping
one allocation, restarting chosen allocations, draining a node, eligibility."""

from __future__ import annotations

import requests

from tests.tui.conftest import register
from tests.tui.support import running_tui, wait_for, wait_for_flat, wait_for_text


def get(cluster, *path, **params):
    return requests.get(f"{cluster.address}/v1/{'/'.join(path)}", params=params, timeout=10).json()


def live_allocs(cluster, name="iris"):
    return [
        a
        for a in get(cluster, "job", f"mlctl-{name}", "allocations")
        if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")
    ]


async def test_detail_shows_allocations_events_and_versions_then_rolls_back(cluster, tmp_path):
    register(cluster, "iris", count=1)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "1/1/1")
        register(cluster, "iris", count=1, version="2.0.0")
        await wait_for_text(tui.pilot, "2.0.0 v1")
        await wait_for_text(tui.pilot, "1/1/1")
        await tui.pilot.press("enter")
        screen = await wait_for_text(tui.pilot, "GPU INSTANCES")
        alloc_id = live_allocs(cluster)[0]["ID"]
        assert alloc_id[:8] in screen and "running" in screen
        assert "Task started by client" in screen  # the task events tab
        await tui.pilot.click("#tabs Tab#--content-tab-tab-versions")
        versions = await wait_for_text(tui.pilot, "◀ current")
        assert "2.0.0" in versions and "1.0.0" in versions
        await tui.pilot.press("b")
        await wait_for_text(tui.pilot, "Roll back iris to which version?")
        await tui.pilot.press("enter")  # the only other version, v0 (stable)
        await wait_for_flat(
            tui.pilot,
            "roll iris in default back from version 1 (2.0.0) to version 0 (1.0.0)".capitalize(),
        )
        await tui.pilot.press("y")
        await wait_for(
            tui.pilot,
            lambda: get(cluster, "job", "mlctl-iris")["Meta"]["mlctl.version"] == "1.0.0",
            "Nomad to run version 0's job again",
        )
        await wait_for_text(tui.pilot, "job mlctl-iris v2 · 1.0.0")
        versions = await wait_for_text(tui.pilot, "   2 1.0.0")  # the versions tab follows
        assert "◀ current" in versions.split("   2 1.0.0", 1)[1].splitlines()[0]


async def test_stop_one_allocation_and_nomad_replaces_it(cluster, tmp_path):
    register(cluster, "iris", count=1)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "1/1/1")
        (old,) = live_allocs(cluster)
        await tui.pilot.press("enter")
        await wait_for_text(tui.pilot, old["ID"][:8])
        await tui.pilot.press("k")
        await wait_for_flat(tui.pilot, f"Stop allocation {old['ID'][:8]} of iris in default on")
        await tui.pilot.press("y")

        def replaced():
            return [a["ID"] for a in live_allocs(cluster) if a["ID"] != old["ID"]]

        new = await wait_for(tui.pilot, replaced, "a replacement allocation") or replaced()
        assert get(cluster, "allocation", old["ID"])["DesiredStatus"] == "stop"
        await wait_for_text(tui.pilot, new[0][:8])


async def test_restart_chosen_allocations_from_the_detail(cluster, tmp_path):
    register(cluster, "iris", count=2)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "2/2/2")
        await tui.pilot.press("enter")
        await wait_for_text(tui.pilot, "GPU INSTANCES")
        await tui.pilot.press("space")  # select the first allocation only
        chosen = tui.app.screen.allocs_chosen()
        assert len(chosen) == 1
        await tui.pilot.press("r")
        await wait_for_flat(
            tui.pilot, f"Restart 1 allocation of iris in default in place ({chosen[0].id[:8]})"
        )
        await tui.pilot.press("y")

        def restarts():
            return {
                a["ID"]: sum(
                    s["Restarts"]
                    for s in get(cluster, "allocation", a["ID"])["TaskStates"].values()
                )
                for a in live_allocs(cluster)
            }

        await wait_for(tui.pilot, lambda: restarts().get(chosen[0].id) == 1, "the restart")
        assert sorted(restarts().values()) == [0, 1]


async def test_drain_a_node_moves_its_allocations_and_eligibility_comes_back(cluster, tmp_path):
    register(cluster, "iris", count=1)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "1/1/1")
        (alloc,) = live_allocs(cluster)
        node = alloc["NodeName"]
        await tui.pilot.press("2")
        await wait_for_text(tui.pilot, "ELIGIBILITY")
        screen = tui.app.screen
        screen.table.move_to(alloc["NodeID"])
        await wait_for_text(tui.pilot, f"GPUs of {node}")
        await tui.pilot.press("d")
        await wait_for_flat(
            tui.pilot,
            f"Drain node {node}: it becomes ineligible and Nomad "
            "moves its 1 allocation (iris in default) to other nodes",
        )
        await tui.pilot.press("y")
        await wait_for(
            tui.pilot,
            lambda: get(cluster, "node", alloc["NodeID"])["SchedulingEligibility"] == "ineligible",
            "the node to be ineligible",
        )
        await wait_for(
            tui.pilot,
            lambda: (
                live_allocs(cluster)
                and all(a["NodeID"] != alloc["NodeID"] for a in live_allocs(cluster))
            ),
            "the move",
        )
        await wait_for_text(tui.pilot, "ineligible")
        await tui.pilot.press("i")
        await wait_for_flat(tui.pilot, f"Mark node {node} eligible")
        await tui.pilot.press("enter")
        await wait_for(
            tui.pilot,
            lambda: get(cluster, "node", alloc["NodeID"])["SchedulingEligibility"] == "eligible",
            "the node to be eligible again",
        )


async def test_nodes_show_each_gpu_and_which_allocation_holds_it(nomad_sim_factory, tmp_path):
    from mlctl.local.engine.topology import GpuSpec, NodeSpec

    cluster = nomad_sim_factory(nodes=[NodeSpec("gpu-1", gpus=[GpuSpec("Tesla T4", 15360)] * 2)])
    register(cluster, "iris", count=1)
    job = get(cluster, "job", "mlctl-iris")
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["Devices"] = [{"Name": "nvidia/gpu", "Count": 1}]
    requests.post(
        f"{cluster.address}/v1/job/mlctl-iris", json={"Job": job}, timeout=10
    ).raise_for_status()
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "1/1/1")
        assert "   1 " in tui.text().split("DES/RUN/OK")[1]  # GPUS in use: 1
        await tui.pilot.press("2")
        screen = await wait_for_text(tui.pilot, "GPUs of gpu-1: 1 of 2 in use")
        assert "Tesla T4" in screen and "15.0G" in screen
        assert "iris (default) on gpu-1" in screen and "free" in screen
