"""What every full screen shares: the connection bar, the footer, and the view plumbing."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer

from mlctl_tui.state import View
from mlctl_tui.widgets.common.connection_bar import ConnectionBar
from mlctl_tui.widgets.common.filter_bar import FilterBar

if TYPE_CHECKING:
    from mlctl_tui.app import MlctlApp
    from mlctl_tui.core.table import RowFilter
    from mlctl_tui.widgets.common.row_table import RowTable


class BaseScreen(Screen[None]):
    """A screen that renders from the app's current :class:`View`."""

    #: One paragraph for the help screen: what this screen is for.
    PURPOSE: ClassVar[str] = ""

    @property
    def mlctl(self) -> MlctlApp:
        from mlctl_tui.app import MlctlApp

        app = self.app
        assert isinstance(app, MlctlApp)
        return app

    def compose(self) -> ComposeResult:
        yield ConnectionBar(id="connection")
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.show_view(self.mlctl.view)

    def on_screen_resume(self) -> None:
        self.show_view(self.mlctl.view)

    def show_view(self, view: View) -> None:
        """Draw ``view``; screens extend :meth:`render_view`."""
        try:
            self.query_one(ConnectionBar).show(view)
            self.render_view(view)
        except NoMatches:
            return  # still composing (e.g. tab panes): the next refresh draws it
        self.refresh_bindings()

    def render_view(self, view: View) -> None:
        """Screen-specific drawing."""

    def allows(self, action: str, namespace: str = "default", **names: str) -> bool:
        return self.mlctl.view.abilities.allows(action, namespace, **names)


class FilteredScreen(BaseScreen):
    """A full screen whose main table has a `/` filter bar (Models, Nodes, Schedules,
    Alerts): typing re-filters at once; Enter or Escape returns to the table."""

    @property
    def table(self) -> RowTable:
        raise NotImplementedError

    def apply_row_filter(self, row_filter: RowFilter) -> None:
        """Keep ``row_filter`` for the next render; screens say where they keep it."""
        raise NotImplementedError

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.apply_row_filter(event.row_filter)
        self.render_view(self.mlctl.view)

    def on_filter_bar_done(self, _event: FilterBar.Done) -> None:
        self.table.focus()

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()
