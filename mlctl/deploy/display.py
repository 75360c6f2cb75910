"""The live view of a rollout: per group desired/placed/healthy/unhealthy and canaries.

On a terminal it is a Rich ``Live`` table redrawn in place on stderr; otherwise (CI
logs, pipes) each change is one plain line, so logs stay readable. Never used with
``--output json``.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from mlctl.deploy.outcome import progress_rows
from mlctl.nomad.types import Deployment
from mlctl.output import note


def _line(deployment: Deployment) -> str:
    groups = ", ".join(
        f"{r['group']}: {r['healthy']}/{r['desired']} healthy, {r['placed']} placed"
        + (f", {r['unhealthy']} unhealthy" if r["unhealthy"] else "")
        + (f", canaries {r['canaries']}" if r["canaries"] != "-" else "")
        for r in progress_rows(deployment)
    )
    status = deployment.get("StatusDescription") or deployment.get("Status") or ""
    return f"deployment {deployment.get('ID', '')[:8]}: {groups} — {status}"


class RolloutDisplay:
    """A context manager whose ``update(deployment)`` is the watcher's progress callback."""

    def __init__(self, title: str, live: bool | None = None) -> None:
        self.title = title
        self.live_enabled = sys.stderr.isatty() if live is None else live
        self._live: Any = None
        self._last = ""
        self._started = time.monotonic()

    def __enter__(self) -> RolloutDisplay:
        if self.live_enabled:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(stderr=True), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def update(self, deployment: Deployment) -> None:
        if self._live is not None:
            self._live.update(self._table(deployment))
            return
        line = _line(deployment)
        if line != self._last:
            note(line)
            self._last = line

    def _table(self, deployment: Deployment) -> Any:
        from rich.table import Table

        elapsed = int(time.monotonic() - self._started)
        status = deployment.get("StatusDescription") or deployment.get("Status") or ""
        table = Table(
            title=f"{self.title} — deployment {deployment.get('ID', '')[:8]} ({elapsed}s)",
            caption=status,
            box=None,
            header_style="bold",
        )
        for header in ("GROUP", "DESIRED", "PLACED", "HEALTHY", "UNHEALTHY", "CANARIES"):
            table.add_column(header)
        for row in progress_rows(deployment):
            table.add_row(
                row["group"],
                str(row["desired"]),
                str(row["placed"]),
                str(row["healthy"]),
                str(row["unhealthy"]),
                row["canaries"],
            )
        return table
