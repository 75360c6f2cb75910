"""Text from Nomad, logs and users is shown as it is: never read as markup, never allowed
to drive the terminal. (A stray ``[/]`` in an error once stopped the app.)"""

from __future__ import annotations

from mlctl.monitor.views import Alert
from tests.tui.demo import NOW, demo_app, settled
from tests.tui.support import flat_text, wait_for_flat, wait_for_text

NASTY = 'Nomad said: [/] {"errors":["[Errno 2] no such [b]file"]} [red]'


async def test_errors_alerts_and_logs_with_brackets_are_shown_literally():
    app = demo_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot)
        app.show_error("Could not [b]scale[/b]", NASTY)
        await wait_for_flat(pilot, NASTY)
        assert "Could not [b]scale[/b]" in flat_text(app)
        await pilot.press("escape")

        labels = {
            "alertname": "X[/]",
            "severity": "critical",
            "namespace": "default",
            "model": "iris",
            "job": "mlctl-iris",
        }
        app.store.set_alerts(
            [Alert(labels, {"summary": "[/]", "description": NASTY}, NOW, None, "f00d")]
        )
        app.store.publish()
        await pilot.press("4")
        await wait_for_flat(pilot, NASTY)

        await pilot.press("1")
        await wait_for_text(pilot, "DES/RUN/OK")
        app.screen.table.move_to("default/mlctl-iris")
        await pilot.press("enter")
        await wait_for_text(pilot, "alert: X[/]")  # the headline names the alert as written


async def test_log_lines_cannot_drive_the_terminal():
    app = demo_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot)
        app.screen.table.move_to("default/mlctl-iris")
        await pilot.press("l")
        await wait_for_text(pilot, "/readyz")
        screen = app.screen
        screen.on_log_chunk(
            type(
                "Chunk",
                (),
                {
                    "source": "x",
                    "stream": "stdout",
                    "data": b"\x1b[2J\x1b]0;pwned\x07[bold]not bold[/bold]\n",
                },
            )()
        )
        shown = await wait_for_text(pilot, "[bold]not bold[/bold]")
        assert "?[2J?]0;pwned?" in shown
