"""Say a recurring problem once, not on every attempt, and say when it is gone.

Loops that retry every few seconds (reading operators' notes, getting the metrics
token, taking the leader lock) would otherwise fill the event log with the same line.
"""

from __future__ import annotations

from collections.abc import Callable


class ProblemLine:
    """The last problem said; :meth:`problem` says a new one, :meth:`cleared` its end."""

    def __init__(self, log: Callable[[str], None], prefix: str = "", recovered: str = "") -> None:
        """``prefix`` goes before every problem; ``recovered`` (if any) is said once when
        a problem clears."""
        self._log = log
        self._prefix = prefix
        self._recovered = recovered
        self.current = ""

    def problem(self, text: str) -> None:
        if text and text != self.current:
            self._log(f"{self._prefix}{text}")
        self.current = text

    def cleared(self) -> None:
        if self.current and self._recovered:
            self._log(self._recovered)
        self.current = ""
