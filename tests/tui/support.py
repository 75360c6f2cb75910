"""Helpers for the TUI's tests: the screen as text, waiting for what it shows."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.pilot import Pilot

from mlctl.monitor.follower import FollowerOptions
from mlctl.monitor.store import Store
from mlctl.monitor.tokens import StaticToken
from mlctl.settings import load_settings

#: Generous: the machine running the tests may be busy; waits end as soon as they can.
WAIT_SECONDS = 60.0


def screen_text(app: Any) -> str:
    """What the terminal shows right now, as plain text (like a screenshot, without SVG)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
    )
    render = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    console.print(render)
    return console.export_text()


def flat_text(app: Any) -> str:
    """The screen as one line: borders dropped, whitespace collapsed, so text that a
    dialog wrapped over several lines can be matched whole."""
    pieces = []
    for line in screen_text(app).splitlines():
        cleaned = line.strip().strip("█▌▐▊▎│┃").strip()
        if cleaned:
            pieces.append(cleaned)
    return " ".join(" ".join(pieces).split())


async def wait_for_flat(pilot: Pilot[Any], text: str, timeout: float = WAIT_SECONDS) -> str:
    """Wait until the flattened screen (see :func:`flat_text`) contains ``text``."""
    seen = ""

    def shown() -> bool:
        nonlocal seen
        seen = flat_text(pilot.app)
        return text in seen

    try:
        await wait_for(pilot, shown, f"the screen to show {text!r}", timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- screen ---\n{screen_text(pilot.app)}") from None
    return seen


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS
) -> None:
    """Let the app run until ``condition()`` holds (checked between UI steps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if condition():
            return
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


async def wait_for_text(pilot: Pilot[Any], text: str, timeout: float = WAIT_SECONDS) -> str:
    """Wait until the screen shows ``text``; returns the screen."""
    seen = ""

    def shown() -> bool:
        nonlocal seen
        seen = screen_text(pilot.app)
        return text in seen

    try:
        await wait_for(pilot, shown, f"the screen to show {text!r}", timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- screen ---\n{seen}") from None
    return seen


# ---------------------------------------------------------------------- a running TUI
SIZE = (170, 50)
#: Reconnect quickly in tests (the defaults suit a real cluster).
FAST = FollowerOptions(
    heartbeat_timeout=20.0, backoff_base=0.1, backoff_cap=0.5, connect_timeout=2.0, poll_wait=5.0
)


@dataclass
class Running:
    app: Any
    pilot: Pilot[Any]
    store: Store
    monitor: Any
    event_log: Path

    def text(self) -> str:
        return screen_text(self.app)


@contextlib.asynccontextmanager
async def running_tui(
    address: str,
    tmp_path: Path,
    *,
    token: str | None = None,
    readonly: bool = False,
    namespace: str | None = None,
    size: tuple[int, int] = SIZE,
) -> AsyncIterator[Running]:
    """The TUI as ``mlctl tui`` builds it (the watch-only monitor of
    :func:`mlctl.session.watch_monitor`, the Nomad backend), headless, against
    ``address``; waits until the first full listing is shown."""
    from mlctl_tui.app import Intervals, make_app

    from mlctl.session import watch_monitor

    flags: dict[str, Any] = {"nomad_addr": address}
    if namespace:
        flags["nomad_namespace"] = namespace
    env = {"NOMAD_TOKEN": token} if token else {}
    settings = load_settings(flags, env=env)
    monitor = watch_monitor(settings, tokens=StaticToken(token), follower_options=FAST)
    monitor.start()
    event_log = tmp_path / "events.jsonl"
    app = make_app(
        settings,
        monitor.store,
        readonly=readonly,
        event_log=event_log,
        intervals=Intervals(clock=1.0, schedules=1.0, notes=1.0),
    )
    try:
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: app.view.snapshot.synced, "the first full listing")
            yield Running(app, pilot, monitor.store, monitor, event_log)
    finally:
        monitor.stop()


class Proxy:
    """A TCP proxy in front of Nomad that can go away and come back on the same port:
    connections are refused while it is down, exactly like a Nomad that stopped."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> Proxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
