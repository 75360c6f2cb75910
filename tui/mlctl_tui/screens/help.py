"""Help (``?``): what the screen underneath is for, its keys, and what you may do."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

GLOBAL_KEYS = (
    ("1 2 3 4", "Models, Nodes, Schedules, Alerts & events"),
    ("?", "this help"),
    ("ctrl+p", "command palette: go to a screen, open a model, switch namespace, theme"),
    ("q", "quit"),
)


def key_lines(screen: Screen[object]) -> list[tuple[str, str]]:
    """The screen's own bindings as (keys, description)."""
    lines = []
    for binding in screen.BINDINGS:
        if isinstance(binding, Binding):
            keys = binding.key.replace("slash", "/").replace("space", "space")
            lines.append((keys, binding.description))
    return lines


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        from mlctl_tui.app import MlctlApp
        from mlctl_tui.screens.base import BaseScreen

        purpose = self.under.PURPOSE if isinstance(self.under, BaseScreen) else ""
        name = type(self.under).__name__.removesuffix("Screen")
        keys = key_lines(self.under)
        width = max((len(k) for k, _ in [*keys, *GLOBAL_KEYS]), default=4) + 2
        text = [purpose, "", "Keys on this screen:"]
        text += [f"  {k.ljust(width)}{d}" for k, d in keys]
        text += ["", "Everywhere:"]
        text += [f"  {k.ljust(width)}{d}" for k, d in GLOBAL_KEYS]
        app = self.app
        if isinstance(app, MlctlApp):
            abilities = app.view.abilities
            text += ["", f"What you may do: {abilities.source}."]
            if abilities.readonly:
                text.append("Read-only mode: actions are hidden and refused.")
        text += [
            "",
            "Mouse: click a row to choose it, double-click to open, click a column "
            "header to sort by it.",
        ]
        with VerticalScroll(id="dialog"):
            yield Label(f"Help: {name}", id="title")
            yield Static("\n".join(text), id="text", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
