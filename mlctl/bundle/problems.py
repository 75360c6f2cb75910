"""One problem found in a bundle, shaped ``file: field: what is wrong``.

Validation collects these instead of raising, so a user sees every problem in one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  #: the bundle cannot be packaged or served
    WARNING = "warning"  #: probably a mistake, but the bundle still works


@dataclass(frozen=True)
class Problem:
    """Where (``file``, then ``field`` inside it) and what is wrong."""

    file: str
    field: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, str]:
        """The JSON form ``mlctl model validate -o json`` prints."""
        return {
            "severity": self.severity.value,
            "file": self.file,
            "field": self.field,
            "message": self.message,
            "text": str(self),
        }


def warning(file: str, field: str, message: str) -> Problem:
    return Problem(file, field, message, Severity.WARNING)
