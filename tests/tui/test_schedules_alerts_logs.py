"""Schedules (the form, validated as typed, with its preview), alerts (acknowledge,
silence) and logs (one allocation, merged, search, pause, save) against the simulator."""

from __future__ import annotations

import json
import re

import requests

from tests.tui.conftest import register
from tests.tui.support import running_tui, wait_for, wait_for_flat, wait_for_text


def variable(cluster, path, namespace="default"):
    answer = requests.get(
        f"{cluster.address}/v1/var/{path}", params={"namespace": namespace}, timeout=10
    )
    return None if answer.status_code == 404 else answer.json()


def stored_schedule(cluster, model="iris"):
    """The stored document, windows without their default ``down: false``."""
    var = variable(cluster, f"mlctl/schedules/{model}")
    if var is None:
        return None
    doc = json.loads(var["Items"]["schedule"])
    doc["windows"] = [{k: v for k, v in w.items() if k != "down" or v} for w in doc["windows"]]
    return doc


async def type_into(pilot, selector, text):
    pilot.app.screen.query_one(selector).value = ""
    pilot.app.screen.query_one(selector).focus()
    await pilot.press(*text)


async def test_add_edit_pause_and_remove_a_window(cluster, tmp_path):
    register(cluster, "iris", count=2)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "2/2/2")
        await tui.pilot.press("e")  # from the Models screen: this model's schedule
        await wait_for_text(tui.pilot, "iris in default: no schedule")
        await tui.pilot.press("a")
        await wait_for_text(tui.pilot, "Add a window to the schedule of iris in default")
        await type_into(tui.pilot, "#f-weekly_tz", "Europe/Berln")
        await wait_for_flat(tui.pilot, "did you mean Europe/Berlin?")
        assert tui.app.screen.query_one("#save").disabled
        await type_into(tui.pilot, "#f-weekly_tz", "Europe/Berlin")
        await type_into(tui.pilot, "#f-days", "Mon-Fry")
        await wait_for_flat(tui.pilot, "unknown day 'Fry'")
        await type_into(tui.pilot, "#f-days", "Mon-Fri")
        await wait_for(
            tui.pilot,
            lambda: not tui.app.screen.query_one("#save").disabled,
            "the preview to validate the window",
        )
        preview = tui.app.screen.preview_text.splitlines()
        assert len(preview) == 5 and all("replicas" in line for line in preview)
        await tui.pilot.press("ctrl+s")
        await wait_for(tui.pilot, lambda: stored_schedule(cluster) is not None, "the variable")
        doc = stored_schedule(cluster)
        assert doc["windows"] == [{"window": "Mon-Fri 09:00-18:00 Europe/Berlin"}]
        assert doc["replicas"] == 2 and doc["updated_by"]
        await wait_for_text(tui.pilot, "Mon-Fri 09:00-18:00 Europe/Berlin")

        await tui.pilot.press("tab")  # the windows table
        await tui.pilot.press("e")
        await wait_for_text(tui.pilot, "Edit a window of the schedule of iris")
        await type_into(tui.pilot, "#f-time", "22:00-02:00")
        await type_into(tui.pilot, "#f-replicas", "3")
        await wait_for(
            tui.pilot, lambda: not tui.app.screen.query_one("#save").disabled, "the preview"
        )
        await tui.pilot.press("ctrl+s")
        await wait_for(
            tui.pilot,
            lambda: (
                stored_schedule(cluster)["windows"]
                == [{"window": "Mon-Fri 22:00-02:00 Europe/Berlin", "replicas": 3}]
            ),
            "the edit",
        )

        await tui.pilot.press("p")
        await wait_for_flat(
            tui.pilot, "Pause the schedule of iris in default: the monitor stops scaling it"
        )
        await tui.pilot.press("enter")
        await wait_for(tui.pilot, lambda: stored_schedule(cluster)["paused"], "the pause")
        await wait_for_text(tui.pilot, "(paused)")

        await tui.pilot.press("x")
        await wait_for_flat(tui.pilot, "it is the last window, so the schedule is removed")
        await tui.pilot.press("y")
        await wait_for(tui.pilot, lambda: stored_schedule(cluster) is None, "the removal")
        await wait_for_text(tui.pilot, "iris in default: no schedule")


async def test_start_and_scale_of_a_scheduled_model_follow_and_override_the_schedule(
    cluster, tmp_path
):
    register(cluster, "iris", count=0)
    requests.put(
        f"{cluster.address}/v1/var/mlctl/schedules/iris",
        params={"cas": 0},
        json={
            "Namespace": "default",
            "Path": "mlctl/schedules/iris",
            "Items": {
                "schedule": json.dumps(
                    {"windows": [{"window": "Mon-Sun 00:00-24:00 UTC"}], "replicas": 2}
                )
            },
        },
        timeout=10,
    ).raise_for_status()
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "scaled to 0")
        await wait_for_text(tui.pilot, "up 2")  # the schedule wants 2 now
        await tui.pilot.press("u")
        await wait_for_flat(tui.pilot, "scale from 0 to 2 (the schedule's count now)")
        await tui.pilot.press("enter")
        await wait_for_text(tui.pilot, "2/2/2")
        await tui.pilot.press("c", "ctrl+a", "ctrl+k", "3", "enter")
        await wait_for_flat(
            tui.pilot,
            "Its schedule wants 2 now; 3 holds as an override until the schedule's next transition",
        )
        await tui.pilot.press("enter")
        await wait_for(
            tui.pilot,
            lambda: (stored_schedule(cluster).get("override") or {}).get("replicas") == 3,
            "the override recorded in the schedule",
        )
        await wait_for_text(tui.pilot, "3/3/3")


async def test_a_crash_loop_raises_an_alert_that_is_acknowledged_and_silenced(cluster, tmp_path):
    cluster.sim.set_behaviour("fail:image pull failed", job="mlctl-iris")
    register(cluster, "iris", count=1)
    async with running_tui(cluster.address, tmp_path) as tui:
        await tui.pilot.press("4")
        await wait_for_text(tui.pilot, "ModelCrashLooping", timeout=90)
        await wait_for_text(tui.pilot, "alert ModelCrashLooping firing")  # the feed
        alert = next(a for a in tui.app.view.snapshot.alerts if a.name == "ModelCrashLooping")
        tui.app.screen.table.move_to(alert.fingerprint)
        await tui.pilot.press("a")
        path = f"mlctl/alerts/notes/{alert.fingerprint}"
        await wait_for(tui.pilot, lambda: variable(cluster, path) is not None, "the note")
        await wait_for_text(tui.pilot, f"acknowledged by {tui.app.view.actor}")
        await tui.pilot.press("s")
        await wait_for_text(tui.pilot, "For how long?")
        await type_into(tui.pilot, "#answer", "3w")
        await wait_for_flat(tui.pilot, "not a duration like 30m, 4h or 2d")
        await type_into(tui.pilot, "#answer", "2h")
        await tui.pilot.press("enter")

        def silenced():
            note = json.loads(variable(cluster, path)["Items"]["note"])
            return note["silenced_until"] and note["acked_by"]

        await wait_for(tui.pilot, silenced, "the silence")
        shown = re.compile(r"silenced 1h5\dm · acked")
        await wait_for(
            tui.pilot, lambda: shown.search(tui.text()), "the note in the table\n" + tui.text()
        )
        await tui.pilot.press("v")  # severity: critical only
        await wait_for_text(tui.pilot, "severity: critical")
        await tui.pilot.press("U")
        await wait_for_flat(tui.pilot, "Remove the acknowledgement and silence of alert")
        await tui.pilot.press("enter")
        await wait_for(tui.pilot, lambda: variable(cluster, path) is None, "the note removed")


async def test_logs_of_one_allocation_and_of_all_merged(cluster, tmp_path):
    register(cluster, "iris", count=2)
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "2/2/2")
        model = next(iter(tui.app.view.models()))
        first, second = sorted(a.id for a in model.allocations if a.live)
        cluster.sim.write_log(first, "server", "stdout", "loading model\nready on :8080\n")
        await tui.pilot.press("enter")
        await wait_for_text(tui.pilot, "GPU INSTANCES")
        tui.app.screen.query_one("#allocs").move_to(first)
        await tui.pilot.press("l")
        screen = await wait_for_text(tui.pilot, "ready on :8080")
        assert f"[{first[:8]}]" not in screen  # one allocation: no prefix
        cluster.sim.write_log(first, "server", "stdout", "request 1 served\n")
        await wait_for_text(tui.pilot, "request 1 served")
        await tui.pilot.press("space")  # pause
        await wait_for_text(tui.pilot, "paused")
        cluster.sim.write_log(first, "server", "stdout", "while paused\n")
        await wait_for_text(tui.pilot, "1 new lines waiting")
        assert "while paused" not in tui.text()
        await tui.pilot.press("space")
        await wait_for_text(tui.pilot, "while paused")
        await tui.pilot.press("slash", *"served")
        await wait_for_text(tui.pilot, "1 matches")
        await tui.pilot.press("enter", "s")
        target = tmp_path / "saved.log"
        await wait_for_text(tui.pilot, "Save the log")
        await type_into(tui.pilot, "#answer", str(target))
        await tui.pilot.press("enter")
        await wait_for(tui.pilot, target.exists, "the saved file")
        assert target.read_text().splitlines()[-4:] == [
            "loading model",
            "ready on :8080",
            "request 1 served",
            "while paused",
        ]
        assert oct(target.stat().st_mode & 0o777) == "0o600"

        await tui.pilot.press("escape")  # back to the detail: every allocation merged
        await wait_for_text(tui.pilot, "GPU INSTANCES")
        cluster.sim.write_log(second, "server", "stderr", "warning: slow batch\n")
        await tui.pilot.press("L", "o")  # all logs, then stdout -> stderr
        await wait_for_text(tui.pilot, f"[{second[:8]}] warning: slow batch")


def test_stopping_a_follow_ends_a_read_blocked_on_a_quiet_log(cluster):
    """The follower's thread must not wait for the next log line to notice it was stopped."""
    import threading

    from mlctl_tui.services.logs import LogFollower, LogTarget

    from mlctl.session import nomad_client_with_token
    from mlctl.settings import load_settings
    from tests.integration.monitor_support import wait_for as wait

    register(cluster, "iris")
    alloc = wait(
        lambda: [
            a
            for a in requests.get(
                f"{cluster.address}/v1/job/mlctl-iris/allocations", timeout=10
            ).json()
            if a["ClientStatus"] == "running"
        ],
        "a running allocation",
    )[0]
    client = nomad_client_with_token(load_settings({"nomad_addr": cluster.address}), None)
    chunks, ended = [], []
    follower = LogFollower(
        client,
        LogTarget(alloc["ID"], "server", "stdout", "a"),
        lambda *args: chunks.append(args),
        lambda *args: ended.append(args),
    )
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    cluster.sim.write_log(alloc["ID"], "server", "stdout", "first line\n")
    wait(lambda: chunks, "the first chunk")
    follower.stop()
    thread.join(timeout=30)
    assert not thread.is_alive(), "stop() left the thread blocked on the socket"
    assert ended == [("a", "stdout", "")]  # stopped on purpose: no error reported


async def test_logs_of_the_previous_instance_of_a_slot(cluster, tmp_path):
    """k9s's -p: the allocation Nomad replaced in the slot (PreviousAllocation), read
    to its end; p again follows the current one."""
    register(cluster, "iris")
    async with running_tui(cluster.address, tmp_path) as tui:
        await wait_for_text(tui.pilot, "1/1/1")
        (first,) = [a.id for a in next(iter(tui.app.view.models())).allocations if a.live]
        cluster.sim.write_log(first, "server", "stdout", "first instance: out of memory\n")
        await tui.pilot.press("enter")
        await wait_for_text(tui.pilot, "GPU INSTANCES")
        # No previous instance yet: it replaced nothing and never restarted.
        await tui.pilot.press("l")
        await wait_for_text(tui.pilot, "first instance: out of memory")
        await tui.pilot.press("p")
        await wait_for(
            tui.pilot,
            lambda: any(
                "there is no previous instance" in n.message
                for n in tui.app._notifications  # toasts are not in a headless frame
            ),
            "the notice that there is none",
        )
        assert tui.app.screen.previous is None
        await tui.pilot.press("escape")
        await wait_for_text(tui.pilot, "GPU INSTANCES")

        stopped = requests.post(f"{cluster.address}/v1/allocation/{first}/stop", timeout=10)
        stopped.raise_for_status()

        def replacement() -> list[str]:
            model = next(iter(tui.app.view.models()))
            return [a.id for a in model.allocations if a.live and a.id != first]

        await wait_for(tui.pilot, lambda: bool(replacement()), "the replacement allocation")
        (second,) = replacement()
        cluster.sim.write_log(second, "server", "stdout", "second instance: ready\n")
        tui.app.screen.query_one("#allocs").move_to(second)
        await tui.pilot.press("l")
        screen = await wait_for_text(tui.pilot, "second instance: ready")
        assert "out of memory" not in screen
        await tui.pilot.press("p")
        screen = await wait_for_text(tui.pilot, "first instance: out of memory")
        assert f"previous instance {first[:8]} (replaced by {second[:8]})" in screen
        assert "second instance" not in screen
        await tui.pilot.press("p")  # back to following the current one
        await wait_for_text(tui.pilot, "second instance: ready")
        assert "out of memory" not in tui.text()
