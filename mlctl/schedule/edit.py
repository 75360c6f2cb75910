"""Building and checking windows from what a person typed (CLI flags, TUI form fields).

``window_spec(...)`` turns the raw values of one window into a
:class:`~mlctl.schedule.spec.WindowSpec`, or raises one
:class:`~mlctl.schedule.problems.ScheduleInvalid` line naming the window and the field
(``window 'Mon-Fry 09:00-18:00 Europe/Berlin': days: unknown day 'Fry' …``).
``check_field`` validates a single field as it is typed; ``preview`` gives the next
transitions of a schedule that is not saved yet.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mlctl.schedule import fields
from mlctl.schedule.problems import FieldError, ScheduleInvalid
from mlctl.schedule.spec import ScheduleSection, WindowSpec
from mlctl.schedule.timeline import Transition, next_transitions


def _check_weekly(text: str) -> None:
    days, times, zone = fields.split_weekly(text)
    fields.parse_days(days)
    fields.parse_time_range(times)
    fields.parse_zone(zone)


_FIELD_CHECKS: dict[str, Callable[[str], object]] = {
    "window": _check_weekly,
    "days": fields.parse_days,
    "time": fields.parse_time_range,
    "tz": fields.parse_zone,
    "start": lambda v: fields.parse_cron(v, "start"),
    "stop": lambda v: fields.parse_cron(v, "stop"),
    "from": lambda v: fields.parse_instant(v, "from"),
    "until": lambda v: fields.parse_instant(v, "until"),
}


def check_field(name: str, value: str) -> str | None:
    """The problem with one field's text (None when it is fine), for validate-as-you-type.

    ``name`` is one of window, days, time, tz, start, stop, from, until. For ``window``
    the message starts with the part that is wrong (``days: …``).
    """
    check = _FIELD_CHECKS.get(name)
    if check is None:
        raise KeyError(f"no such schedule field: {name}")
    try:
        check(value)
    except FieldError as error:
        return error.message if name != "window" else str(error)
    return None


def raw_label(raw: dict[str, Any]) -> str:
    """How a window is named in errors before it is known to be valid."""
    if raw.get("window") is not None:
        return str(raw["window"])
    if raw.get("start") is not None or raw.get("stop") is not None:
        tz = f" {raw['tz']}" if raw.get("tz") else ""
        return f"start {raw.get('start')!r} stop {raw.get('stop')!r}{tz}"
    if raw.get("from") is not None or raw.get("until") is not None:
        return f"from {raw.get('from')} until {raw.get('until')}"
    return "(empty)"


def _first_problem(error: ValidationError) -> tuple[str, str]:
    item = error.errors()[0]
    message = str(item["msg"]).removeprefix("Value error, ")
    loc = [str(part) for part in item["loc"] if part not in ("windows",)]
    field = loc[-1] if loc else ""
    if field == "from_":
        field = "from"
    if field == "window" and ": " in message:
        field, _, message = message.partition(": ")  # the part of the window text
    if item["type"] == "extra_forbidden":
        message = "unknown field"
    return field, message


def window_spec(raw: dict[str, Any]) -> WindowSpec:
    """A validated window from raw values (``None`` values are left out)."""
    values = {key: value for key, value in raw.items() if value is not None}
    try:
        return WindowSpec.model_validate(values)
    except ValidationError as error:
        field, message = _first_problem(error)
        where = f"window {raw_label(values)!r}"
        text = f"{where}: {field}: {message}" if field else f"{where}: {message}"
        raise ScheduleInvalid(text) from None


def preview(
    windows: list[dict[str, Any]],
    *,
    replicas: int,
    idle_replicas: int | None,
    now: datetime,
    count: int = 5,
) -> list[Transition]:
    """The next ``count`` transitions of an unsaved schedule (for a form before Save)."""
    specs = [window_spec(raw) for raw in windows]
    section = ScheduleSection(windows=specs, idle_replicas=idle_replicas)
    return next_transitions(section.compile(replicas), now, count)
