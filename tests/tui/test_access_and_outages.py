"""--readonly, what a token's policies allow, Nomad's refusals in plain words, and the UI
riding out Nomad going away and coming back."""

from __future__ import annotations

import json

import requests
from mlctl_tui.core import plans
from mlctl_tui.core.permissions import Abilities
from mlctl_tui.screens.models import ModelsScreen
from mlctl_tui.services.actions import Prepared, ReadOnly

from tests.integration.monitor_support import create_namespace, create_policy, create_token
from tests.tui.conftest import register
from tests.tui.support import Proxy, running_tui, wait_for, wait_for_flat, wait_for_text

VIEWER = 'namespace "*" { policy = "read" }\nnode { policy = "read" }\n'
TEAM_DEFAULT = (
    'namespace "default" { policy = "write" }\n'
    'namespace "team-b" { policy = "read" }\n'  # sees the other team's models, cannot act
    'node { policy = "read" }\n'
)


def footer(text: str) -> str:
    return text.splitlines()[-1]


async def keys_shown(tui, expected: str = "Help") -> str:
    """The footer's keys, once it has been drawn (it follows the screen asynchronously)."""
    await wait_for(tui.pilot, lambda: expected in footer(tui.text()), f"{expected} in the footer")
    return footer(tui.text())


async def test_readonly_hides_and_refuses_every_action(cluster, tmp_path):
    register(cluster, "iris", count=2)
    async with running_tui(cluster.address, tmp_path, readonly=True) as tui:
        screen = await wait_for_text(tui.pilot, "2/2/2")
        assert "READ-ONLY" in screen
        keys = await keys_shown(tui, "Filter")
        assert "Filter" in keys and "Logs" in keys  # reading is not an action
        for hidden in ("Scale", "Stop", "Start", "Restart", "Rollback", "Promote"):
            assert hidden not in keys
        await tui.pilot.press("c", "x", "r")
        await tui.pilot.pause()
        assert isinstance(tui.app.screen, ModelsScreen)  # no confirmation opened
        await tui.pilot.press("2")
        await wait_for_text(tui.pilot, "ELIGIBILITY")
        keys = await keys_shown(tui, "Sort")
        assert "Drain" not in keys and "Eligible" not in keys
        await tui.pilot.press("3")
        await wait_for_text(tui.pilot, "NEXT START")
        keys = await keys_shown(tui, "Reload")
        assert "Add window" not in keys and "Pause" not in keys
        await tui.pilot.press("1")
        # The action layer refuses even what a bug might still send it, and records that.
        model = next(iter(tui.app.view.models()))
        prepared = Prepared(
            plans.scale(model, 0),
            {"model": "iris"},
            lambda: tui.app.backend.scale("default", "iris", 0),
        )
        try:
            tui.app.actions.execute(prepared)
        except ReadOnly as refusal:
            assert "--readonly" in refusal.message
        else:
            raise AssertionError("a read-only TUI ran an action")
        record = json.loads(tui.event_log.read_text().splitlines()[-1])
        assert record["result"] == "refused" and record["action"] == "scale"
        assert (
            requests.get(f"{cluster.address}/v1/job/mlctl-iris", timeout=10).json()["TaskGroups"][
                0
            ]["Count"]
            == 2
        )
        await tui.pilot.press("question_mark")
        await wait_for_text(tui.pilot, "Read-only mode: actions are hidden and refused.")


async def test_a_viewer_is_offered_nothing_a_team_member_only_their_namespace(
    nomad_sim_factory, tmp_path
):
    cluster = nomad_sim_factory(acl=True)
    create_namespace(cluster, "team-b")
    register(cluster, "iris")
    register(cluster, "bert", namespace="team-b")
    create_policy(cluster, "viewer", VIEWER)
    create_policy(cluster, "team-default", TEAM_DEFAULT)
    viewer = create_token(cluster, ["viewer"])["SecretID"]
    member = create_token(cluster, ["team-default"])["SecretID"]

    async with running_tui(cluster.address, tmp_path / "v", token=viewer) as tui:
        await wait_for(tui.pilot, lambda: tui.app.view.abilities.grant is not None, "abilities")
        screen = await wait_for_text(tui.pilot, "bert")
        assert "iris" in screen
        keys = await keys_shown(tui, "Filter")
        assert "Scale" not in keys and "Restart" not in keys and "Logs" not in keys

    async with running_tui(cluster.address, tmp_path / "m", token=member) as tui:
        await wait_for(tui.pilot, lambda: tui.app.view.abilities.grant is not None, "abilities")
        await wait_for_text(tui.pilot, "bert")
        tui.app.screen.table.move_to("default/mlctl-iris")
        keys = await keys_shown(tui, "Scale")
        assert "Stop" in keys and "Logs" in keys
        tui.app.screen.table.move_to("team-b/mlctl-bert")
        await wait_for(tui.pilot, lambda: "Scale" not in footer(tui.text()), "Scale hidden")
        keys = await keys_shown(tui, "Filter")
        assert "Stop" not in keys and "Restart" not in keys
        await tui.pilot.press("2")
        await wait_for_text(tui.pilot, "ELIGIBILITY")
        keys = await keys_shown(tui, "Sort")
        assert "Drain" not in keys

        # Where the policies cannot be known, the action is offered and Nomad's answer
        # is shown in plain words.
        tui.app.update_view(abilities=Abilities(source="unknown"))
        await tui.pilot.press("1")
        await wait_for_text(tui.pilot, "bert")
        tui.app.screen.table.move_to("team-b/mlctl-bert")
        await tui.pilot.press("c", "ctrl+a", "ctrl+k", "2", "enter")
        await wait_for_flat(tui.pilot, "Scale bert in team-b from 1 to 2")
        await tui.pilot.press("enter")
        modal = await wait_for_flat(tui.pilot, "Permission denied")
        assert "Nomad refused to scale bert in team-b from 1 to 2: permission denied" in modal
        assert "Nomad said: permission denied: POST /v1/job/mlctl-bert/scale" in modal
        assert "ask an operator for access" in modal
        record = json.loads(tui.event_log.read_text().splitlines()[-1])
        assert record["result"] == "failed" and "permission denied" in record["message"]


async def test_the_ui_survives_nomad_going_away_and_coming_back(cluster, tmp_path):
    register(cluster, "iris", count=1)
    proxy = Proxy(cluster.host, cluster.port).up()
    try:
        async with running_tui(proxy.address, tmp_path) as tui:
            await wait_for_text(tui.pilot, "1/1/1")
            proxy.down()
            screen = await wait_for_text(tui.pilot, "disconnected since")
            assert "showing the last known state" in screen
            assert "1/1/1" in screen  # the last known state stays on screen
            await tui.pilot.press("2")  # the UI keeps working while Nomad is away
            await wait_for_text(tui.pilot, "ELIGIBILITY")
            await tui.pilot.press("1")
            requests.post(
                f"{cluster.address}/v1/job/mlctl-iris/scale",
                json={"Count": 2, "Target": {"Group": "model"}},
                timeout=10,
            ).raise_for_status()
            proxy.up()
            await wait_for_text(tui.pilot, "(stream)")
            screen = await wait_for_text(tui.pilot, "2/2/2")
            assert "disconnected" not in screen
            await tui.pilot.press("4")
            feed = await wait_for_text(tui.pilot, "connection lost")
            assert "connected (stream)" in feed
    finally:
        proxy.down()
