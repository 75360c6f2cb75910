"""``mlctl tui``: start a watch-only monitor in-process, run the app on its Store.

The monitor is the one ``mlctl monitor run`` runs, built by
:func:`mlctl.session.watch_monitor` in its watch-only mode: the same follower (event
stream, REST resync, polling fallback, backoff), prober and health rules, and none of
what only the deployed monitor should do — no notifications, no automatic actions, no
saved or published state — with the operator's token. Everything that can be wrong
before the screen takes over (a bad address, an expired login, no terminal) is raised
here as an :class:`~mlctl.errors.MlctlError`, so the CLI prints its one line and exits
with the documented status.
"""

from __future__ import annotations

from typing import Any

from mlctl.settings import Settings


def start_monitor(settings: Settings, judge_reachability: bool = False) -> Any:
    """The watch-only monitor following every namespace the token can read, started."""
    from mlctl.session import watch_monitor

    monitor = watch_monitor(settings, judge_reachability=judge_reachability)
    monitor.start()
    return monitor


def run(settings: Settings, readonly: bool = False, judge_reachability: bool = False) -> None:
    """Run the TUI until the operator quits."""
    from mlctl_tui.app import make_app

    monitor = start_monitor(settings, judge_reachability)
    try:
        make_app(settings, monitor.store, readonly=readonly, freeze_heap=True).run()
    finally:
        monitor.stop()
