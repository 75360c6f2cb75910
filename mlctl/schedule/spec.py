"""The written form of a schedule: a bundle's ``schedule:`` section and what is stored.

A window is a mapping in one of three forms (plus ``replicas`` and ``down``)::

    - window: "Mon-Fri 09:00-18:00 Europe/Berlin"   # weekly
      replicas: 2
    - start: "0 9 * * 1-5"                           # cron pair
      stop: "0 18 * * 1-5"
      tz: Europe/Berlin
    - from: "2025-12-24T00:00:00+01:00"              # one-off
      until: "2025-12-27T00:00:00+01:00"
      down: true                                     # maintenance: 0 replicas

A bundle writes either that list or a mapping ``{windows: [...], idle_replicas: N}``.
Validation is pydantic's, each field checked by its parser in
:mod:`mlctl.schedule.fields`, so ``mlctl model validate`` reports
``schedule[0].tz: unknown time zone 'Europe/Berln' (did you mean Europe/Berlin?)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from mlctl.schedule import fields
from mlctl.schedule.problems import FieldError
from mlctl.schedule.rules import CronPair, OneOff, Rule, Weekly
from mlctl.schedule.timeline import Schedule, Window

#: Most windows one schedule may hold (the stored variable stays far below Nomad's 64 KiB).
MAX_WINDOWS = 64
MAX_REPLICAS = 1000


def _only_message(error: FieldError) -> ValueError:
    """For a validator of the field the error names: the message without the field again."""
    return ValueError(error.message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WindowSpec(_Strict):
    """One window as written; exactly one of its three forms."""

    window: str | None = Field(default=None, description="Weekly: DAYS START-END ZONE.")
    start: str | None = Field(default=None, description="Cron pair: opens at these fires.")
    stop: str | None = Field(default=None, description="Cron pair: closes at these fires.")
    tz: str | None = Field(default=None, description="Cron pair: the IANA zone of both.")
    from_: str | None = Field(default=None, alias="from", description="One-off: opens (ISO).")
    until: str | None = Field(default=None, description="One-off: closes (ISO 8601).")
    replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    down: bool = Field(default=False, description="Maintenance: 0 replicas, wins over others.")

    @field_validator("window")
    @classmethod
    def _weekly(cls, value: str | None) -> str | None:
        if value is not None:
            parse_weekly(value)  # raises "days: …", "time: …" or "tz: …"
        return value

    @field_validator("start", "stop")
    @classmethod
    def _cron(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return None
        try:
            return fields.parse_cron(value, info.field_name)
        except FieldError as error:
            raise _only_message(error) from None

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return fields.parse_zone(value).key
        except FieldError as error:
            raise _only_message(error) from None

    @field_validator("from_", "until")
    @classmethod
    def _instant(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return None
        try:
            fields.parse_instant(value, "from" if info.field_name == "from_" else "until")
        except FieldError as error:
            raise _only_message(error) from None
        return value.strip()

    @model_validator(mode="after")
    def _one_form(self) -> WindowSpec:
        weekly = self.window is not None
        cron = any(v is not None for v in (self.start, self.stop, self.tz))
        once = self.from_ is not None or self.until is not None
        if weekly + cron + once != 1:
            raise ValueError(
                'write exactly one form: window: "Mon-Fri 09:00-18:00 Europe/Berlin", '
                "or start/stop/tz (cron), or from/until (ISO 8601)"
            )
        if cron:
            self._check_cron()
        if once:
            self._check_once()
        if self.down and self.replicas is not None:
            raise ValueError("a down window runs 0 replicas; remove its replicas")
        return self

    def _check_cron(self) -> None:
        missing = [n for n in ("start", "stop", "tz") if getattr(self, n) is None]
        if missing:
            raise ValueError(
                f"a cron window needs start, stop and tz; missing: {', '.join(missing)}"
            )
        assert self.start and self.stop and self.tz
        fields.check_cron_pair(self.start, self.stop, fields.parse_zone(self.tz))

    def _check_once(self) -> None:
        if self.from_ is None or self.until is None:
            raise ValueError("a one-off window needs both from and until")
        if instant(self.from_, "from") >= instant(self.until, "until"):
            raise ValueError(f"from {self.from_} is not before until {self.until}")

    def rule(self) -> Rule:
        """The evaluable rule (the spec is already valid)."""
        if self.window is not None:
            return parse_weekly(self.window)
        if self.start is not None and self.stop is not None and self.tz is not None:
            return CronPair(self.start, self.stop, fields.parse_zone(self.tz))
        assert self.from_ is not None and self.until is not None
        return OneOff(instant(self.from_, "from"), instant(self.until, "until"))

    def compiled(self) -> Window:
        return Window(self.rule(), self.replicas, self.down)

    @property
    def label(self) -> str:
        return self.compiled().label

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)


def instant(text: str, field: str) -> datetime:
    return fields.parse_instant(text, field)


def parse_weekly(text: str) -> Weekly:
    """``"Mon-Fri 09:00-18:00 Europe/Berlin"`` → a :class:`Weekly` rule."""
    days, times, zone = fields.split_weekly(text)
    start, end = fields.parse_time_range(times)
    return Weekly(fields.parse_days(days), start, end, fields.parse_zone(zone))


def _unwrap_list_form(error: ValidationError) -> ValidationError:
    """Errors of the list form located as the user wrote them: ``[0].tz``, not
    ``windows[0].tz``."""
    line_errors: list[Any] = []
    for item in error.errors():
        loc = item["loc"][1:] if item["loc"][:1] == ("windows",) else item["loc"]
        line_errors.append({**item, "loc": loc})
    return ValidationError.from_exception_data(error.title, line_errors)


class ScheduleSection(_Strict):
    """A bundle's ``schedule:``: the windows and the count outside them."""

    windows: list[WindowSpec] = Field(min_length=1, max_length=MAX_WINDOWS)
    idle_replicas: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description="Replicas outside every window: 0 by default; with only down "
        "windows, the bundle's replicas.",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _list_form(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, list):
            try:
                return handler({"windows": value})
            except ValidationError as error:
                raise _unwrap_list_form(error) from None
        return handler(value)

    def compile(self, replicas: int) -> Schedule:
        """The evaluable schedule; ``replicas`` is the default for windows without one."""
        windows = tuple(spec.compiled() for spec in self.windows)
        idle = self.idle_replicas
        if idle is None:
            idle = 0 if any(not w.down for w in windows) else replicas
        return Schedule(windows, replicas=replicas, idle_replicas=idle)


class Override(_Strict):
    """A manual ``mlctl scale`` while scheduled: it holds until the next transition."""

    replicas: int = Field(ge=0, le=MAX_REPLICAS)
    at: str = Field(description="When it was set (ISO 8601, UTC).")
    by: str = Field(default="", max_length=200)

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        try:
            fields.parse_instant(value, "at")
        except FieldError as error:
            raise _only_message(error) from None
        return value

    @property
    def since(self) -> datetime:
        return instant(self.at, "at")


class StoredSchedule(ScheduleSection):
    """What ``mlctl/schedules/<model>`` holds: the windows plus who runs them how."""

    format: int = Field(default=1, ge=1, le=1)
    replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS, description="For windows without.")
    paused: bool = False
    override: Override | None = None
    updated_by: str = Field(default="", max_length=200)
    updated_at: str = Field(default="", max_length=64)

    def schedule(self) -> Schedule:
        return self.compile(self.replicas)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)
