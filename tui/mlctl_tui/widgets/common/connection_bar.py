"""The top line of every screen: where the TUI is connected, as whom, and since when not."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mlctl_tui.core import formatting as fmt
from mlctl_tui.state import View


def connection_text(view: View) -> tuple[str, str]:
    """(the text, its state: ``ok``, ``connecting`` or ``down``) — pure, for tests."""
    snapshot = view.snapshot
    who = f"{view.actor} · " if view.actor else ""
    scope = f"ns {view.namespace}" if view.namespace else "all namespaces"
    mode = " · READ-ONLY" if view.readonly else ""
    if snapshot.disconnected_since is not None and not snapshot.connected:
        since = snapshot.disconnected_since
        # The error comes last: it can be long, and the bar is cut to one line, so what
        # the operator must know (stale data, reconnecting) goes first.
        why = f" · {snapshot.last_error}" if snapshot.last_error else ""
        return (
            f"✖ Nomad {view.address} disconnected since {fmt.clock(since)} "
            f"({fmt.age(since, view.now)} ago) — showing the last known state, "
            f"reconnecting…{mode}{why}",
            "down",
        )
    if not snapshot.synced:
        return f"… connecting to Nomad at {view.address}{mode}", "connecting"
    return (
        f"● {who}Nomad {view.address} ({snapshot.mode}) · {scope} · "
        f"index {snapshot.index} · {fmt.clock(view.now)}{mode}",
        "ok",
    )


class ConnectionBar(Static):
    DEFAULT_CSS = """
    ConnectionBar { height: 1; padding: 0 1; background: $boost; }
    ConnectionBar.-down { background: $error 60%; color: $text; text-style: bold; }
    ConnectionBar.-connecting { background: $warning 40%; }
    """

    def show(self, view: View) -> None:
        text, state = connection_text(view)
        self.set_class(state == "down", "-down")
        self.set_class(state == "connecting", "-connecting")
        self.update(Text(text, no_wrap=True, overflow="ellipsis"))
