"""The errors schedule parsing raises.

A :class:`FieldError` names the field it is about (``days``, ``time``, ``tz``, ``start``,
``stop``, ``from``, ``until``, ``replicas``); whoever knows which window it came from wraps
it into one line that names the window too (:func:`window_error`). It subclasses
``ValueError`` so pydantic validators can raise it unchanged.
"""

from __future__ import annotations

from mlctl.errors import InvalidInput


class FieldError(ValueError):
    """One field of one window is wrong; ``message`` says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ScheduleInvalid(InvalidInput):
    """A schedule given on the command line or read from storage cannot be used."""

    title = "invalid schedule"


def window_error(label: str, error: FieldError) -> ScheduleInvalid:
    """The one line for the user: which window, which field, what to do."""
    return ScheduleInvalid(f"window {label!r}: {error.field}: {error.message}")
