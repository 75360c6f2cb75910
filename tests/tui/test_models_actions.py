"""The Models screen against the Nomad simulator: what it shows, and every model action
really changing the simulator's state, which the screen then shows."""

from __future__ import annotations

import json

import requests

from tests.integration.monitor_support import create_namespace
from tests.tui.conftest import register
from tests.tui.support import running_tui, wait_for, wait_for_flat, wait_for_text


def job(cluster, name="iris", namespace="default"):
    return requests.get(
        f"{cluster.address}/v1/job/mlctl-{name}", params={"namespace": namespace}, timeout=10
    ).json()


def allocs(cluster, name="iris", namespace="default"):
    return requests.get(
        f"{cluster.address}/v1/job/mlctl-{name}/allocations",
        params={"namespace": namespace},
        timeout=10,
    ).json()


def audit_records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if '"audit"' in line]


async def test_models_are_listed_filtered_and_switched_by_namespace(cluster, tmp_path):
    create_namespace(cluster, "team-a")
    register(cluster, "iris", count=2)
    register(cluster, "bert", namespace="team-a")
    async with running_tui(cluster.address, tmp_path) as tui:
        screen = await wait_for_text(tui.pilot, "2/2/2")
        assert "iris" in screen and "bert" in screen and "team-a" in screen
        assert "healthy" in screen
        await tui.pilot.press("slash", *"^ir")
        await wait_for(tui.pilot, lambda: "bert" not in tui.text(), "bert filtered out")
        assert "1 of 2 models" in tui.text()
        await tui.pilot.press("home", "exclamation_mark")
        await wait_for(
            tui.pilot,
            lambda: "iris" not in tui.text().split("NAME")[1],
            "the inverted filter hides iris",
        )
        await tui.pilot.press("escape")  # clears the filter
        await wait_for_text(tui.pilot, "2 models")
        await tui.pilot.press("n")
        await wait_for_text(tui.pilot, "Show which namespace?")
        await tui.pilot.press("down", "down", "enter")  # all, default, team-a
        await wait_for(tui.pilot, lambda: "namespace: team-a" in tui.text(), "team-a only")
        rows = tui.text().split("NAME", 1)[1]
        assert "bert" in rows and "iris " not in rows


async def test_sorting_by_key_and_by_clicking_a_header_and_the_command_palette(cluster, tmp_path):
    register(cluster, "bert")
    register(cluster, "iris", count=2)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "2/2/2")

        def order():
            return [r.cells[0] for r in tui.app.screen.table.rows]

        assert order() == ["bert", "iris"]
        await tui.pilot.press("s", "s", "s")  # NAME -> NAMESPACE -> VERSION -> DES/RUN/OK
        await wait_for_text(tui.pilot, "sort: DES/RUN/OK ▲")
        assert "DES/RUN/O▲" in tui.text()  # the arrow fits in the header
        assert order() == ["bert", "iris"]  # 1 desired before 2
        await tui.pilot.press("S")
        await wait_for_text(tui.pilot, "sort: DES/RUN/OK ▼")
        assert order() == ["iris", "bert"]
        await tui.pilot.click("#models", offset=(4, 0))  # the NAME header
        await wait_for_text(tui.pilot, "NAME▲")
        assert order() == ["bert", "iris"]
        await tui.pilot.click("#models", offset=(4, 0))  # again: the other way
        await wait_for_text(tui.pilot, "NAME▼")
        assert order() == ["iris", "bert"]
        await tui.pilot.press("ctrl+p", *"open bert")
        await wait_for_text(tui.pilot, "Open bert (default)")
        await tui.pilot.press("enter")
        await wait_for_text(tui.pilot, "bert in default · job mlctl-bert")


async def test_scale_confirms_exactly_and_changes_the_job(cluster, tmp_path):
    register(cluster, "iris", count=2)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "2/2/2")
        await tui.pilot.press("c")
        await wait_for_text(tui.pilot, "Replicas for iris in default (now 2)")
        await tui.pilot.press("ctrl+a", "ctrl+k", "3", "enter")
        await wait_for_flat(
            tui.pilot, "Scale iris in default from 2 to 3: 1 allocation will start."
        )
        await tui.pilot.press("enter")  # not destructive: Enter confirms
        await wait_for(
            tui.pilot,
            lambda: job(cluster)["TaskGroups"][0]["Count"] == 3,
            "Nomad's count to become 3",
        )
        await wait_for_text(tui.pilot, "3/3/3")
        (record,) = audit_records(tui.event_log)
        assert record["action"] == "scale" and record["result"] == "ok"
        assert record["target"] == {
            "namespace": "default",
            "model": "iris",
            "job": "mlctl-iris",
            "count": "3",
        }
        assert record["actor"] and record["time"]


async def test_scale_down_is_destructive_and_enter_alone_does_not_confirm(cluster, tmp_path):
    register(cluster, "iris", count=3)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "3/3/3")
        await tui.pilot.press("c", "ctrl+a", "ctrl+k", "0", "enter")
        modal = await wait_for_flat(tui.pilot, "from 3 to 0: 3 allocations will stop.")
        assert "Press y to confirm" in modal
        await tui.pilot.press("enter")  # focus is on No: Enter cancels
        await wait_for(tui.pilot, lambda: "from 3 to 0" not in tui.text(), "the modal closed")
        assert job(cluster)["TaskGroups"][0]["Count"] == 3
        await tui.pilot.press("c", "ctrl+a", "ctrl+k", "0", "enter")
        await wait_for_text(tui.pilot, "from 3 to 0")
        await tui.pilot.press("y")
        await wait_for(
            tui.pilot,
            lambda: job(cluster)["TaskGroups"][0]["Count"] == 0,
            "Nomad's count to become 0",
        )
        await wait_for_text(tui.pilot, "scaled to 0")


async def test_stop_then_start_with_the_bundles_replicas(cluster, tmp_path):
    register(cluster, "iris", count=2)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "2/2/2")
        await tui.pilot.press("x")
        await wait_for_flat(tui.pilot, "Nomad stops job mlctl-iris and its 2 allocations")
        await tui.pilot.press("y")
        await wait_for(tui.pilot, lambda: job(cluster)["Stop"] is True, "the job to stop")
        await wait_for_text(tui.pilot, "stopped")
        await tui.pilot.press("u")
        await wait_for_flat(
            tui.pilot, "registers job mlctl-iris again with 2 replicas (the bundle's replicas)"
        )
        await tui.pilot.press("enter")
        await wait_for(tui.pilot, lambda: job(cluster)["Stop"] is False, "the job to run")
        await wait_for_text(tui.pilot, "2/2/2")


async def test_restart_of_several_selected_models(cluster, tmp_path):
    register(cluster, "bert")
    register(cluster, "iris")
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for(tui.pilot, lambda: tui.text().count("1/1/1") == 2, "both healthy")
        await tui.pilot.press("home", "space", "space")  # select bert and iris
        await wait_for_text(tui.pilot, "2 selected")
        await tui.pilot.press("r")
        await wait_for_flat(tui.pilot, "Restart 2 allocations in place across 2 models")
        await tui.pilot.press("y")

        def restarted(name):
            return all(
                sum(s["Restarts"] for s in a["TaskStates"].values()) == 1
                for a in allocs(cluster, name)
                if a["ClientStatus"] == "running"
            ) and bool(allocs(cluster, name))

        await wait_for(
            tui.pilot,
            lambda: restarted("bert") and restarted("iris"),
            "both models' allocations restarted",
        )


async def test_promote_canaries(cluster, tmp_path):
    register(cluster, "iris", count=2)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "2/2/2")
        register(cluster, "iris", count=2, version="2.0.0", canary=1)
        await wait_for_text(tui.pilot, "canaries await promotion")
        await tui.pilot.press("p")
        await wait_for_flat(tui.pilot, "1 of 1 canaries are healthy")
        await tui.pilot.press("enter")

        def promoted():
            deployment = requests.get(
                f"{cluster.address}/v1/job/mlctl-iris/deployment", timeout=10
            ).json()
            return deployment["TaskGroups"]["model"]["Promoted"]

        await wait_for(tui.pilot, promoted, "Nomad to record the promotion")
        await wait_for_text(tui.pilot, "2.0.0 v1")
        await wait_for(tui.pilot, lambda: "2/2/2" in tui.text(), "all on the new version")
