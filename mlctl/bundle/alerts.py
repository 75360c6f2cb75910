"""The ``alerts:`` section of ``mlctl.yaml``: health-rule thresholds, opt-in actions,
and prediction notifications, all optional.

Every rule has a sensible default (see :class:`Rules`); a bundle overrides only what it
names, and the monitor's own config file can change the defaults for every model. The
section travels with the job (``mlctl deploy`` puts it, as compact JSON, into the job's
meta ``mlctl.alerts``), so the running monitor reads each model's settings from Nomad.

Durations are numbers of seconds or Go-style strings: ``90s``, ``10m``, ``1h30m``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``"30s"``, ``"10m"``, ``"1h30m"`` (refuses anything else)."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 30s, 10m, 1h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        parts = _DURATION_PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(float(n) * _UNITS[u] for n, u in parts)
    raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 10m or 1h30m")


Duration = Annotated[float, BeforeValidator(parse_duration)]
Severity = Literal["critical", "warning", "info"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rule(_Strict):
    enabled: bool = True
    severity: Severity = "warning"
    for_: Duration = Field(default=0.0, alias="for", description="how long it must hold")


class CrashLoopRule(Rule):
    severity: Severity = "critical"
    restarts: int = Field(default=3, ge=1, description="crashes within the window")
    window: Duration = 600.0


class RecentFailureRule(Rule):
    severity: Severity = "critical"
    window: Duration = Field(default=900.0, description="how long a failure stays news")


class CanaryRule(Rule):
    for_: Duration = Field(default=1800.0, alias="for")


class UnderReplicatedRule(Rule):
    for_: Duration = Field(default=120.0, alias="for")


class BlockedRule(Rule):
    for_: Duration = Field(default=30.0, alias="for")


class NodeRule(Rule):
    for_: Duration = Field(default=60.0, alias="for")


class LatencyRule(Rule):
    p99_ms: float = Field(default=1000.0, gt=0)
    for_: Duration = Field(default=120.0, alias="for")


class ErrorRateRule(Rule):
    threshold: float = Field(default=0.05, gt=0, le=1, description="fraction of 5xx answers")
    min_rate: float = Field(default=0.1, ge=0, description="req/s below which it is not judged")
    for_: Duration = Field(default=120.0, alias="for")


class UnreachableRule(Rule):
    severity: Severity = "critical"
    for_: Duration = Field(default=60.0, alias="for")


class Rules(_Strict):
    """Thresholds of every health rule; each can be switched off with ``enabled: false``."""

    crash_loop: CrashLoopRule = CrashLoopRule()
    allocation_failed: RecentFailureRule = RecentFailureRule()
    oom_killed: RecentFailureRule = RecentFailureRule()
    deployment_failed: RecentFailureRule = RecentFailureRule()
    canaries_waiting: CanaryRule = CanaryRule()
    under_replicated: UnderReplicatedRule = UnderReplicatedRule()
    placement_blocked: BlockedRule = BlockedRule()
    node_unavailable: NodeRule = NodeRule()
    gpu_unhealthy: Rule = Rule(severity="critical")
    latency: LatencyRule = LatencyRule()
    error_rate: ErrorRateRule = ErrorRateRule()
    unreachable: UnreachableRule = UnreachableRule()


class RestartAction(_Strict):
    max_restarts: int = Field(default=3, ge=1, le=100, description="per allocation, ever")
    cooldown: Duration = 300.0


class ScaleAction(_Strict):
    min: int = Field(ge=0, le=1000)
    max: int = Field(ge=1, le=1000)
    in_flight_above: float | None = Field(default=None, gt=0, description="per replica")
    p99_above_ms: float | None = Field(default=None, gt=0)
    intervals: int = Field(default=3, ge=1, description="consecutive probes over target")
    step: int = Field(default=1, ge=1)
    cooldown: Duration = 300.0
    scale_down_below: float = Field(
        default=0.3, gt=0, lt=1, description="fraction of the target under which to shrink"
    )

    @model_validator(mode="after")
    def _bounds(self) -> ScaleAction:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        if self.in_flight_above is None and self.p99_above_ms is None:
            raise ValueError("give in_flight_above and/or p99_above_ms: what counts as load")
        return self


class RevertAction(_Strict):
    cooldown: Duration = 1800.0


class Actions(_Strict):
    """Opt-in automatic actions; each is off unless present."""

    restart: RestartAction | None = None
    scale: ScaleAction | None = None
    revert: RevertAction | None = None


class PredictionRule(_Strict):
    """Notify when a prediction matches (seed 002's "notification after predictions").

    ``field`` picks a key (or list index) inside each prediction row; without it the
    row itself is compared. Exactly one of ``equals``, ``one_of``, ``above``, ``below``.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    field: str | None = None
    equals: str | int | float | bool | None = None
    one_of: list[str | int | float] | None = None
    above: float | None = None
    below: float | None = None
    severity: Severity = "info"
    message: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _one_test(self) -> PredictionRule:
        tests = [self.equals, self.one_of, self.above, self.below]
        if sum(t is not None for t in tests) != 1:
            raise ValueError("give exactly one of equals, one_of, above, below")
        return self


class Notify(_Strict):
    """Where the model server sends prediction notifications (secrets via env only)."""

    webhook: str | None = Field(default=None, description="Alertmanager-format webhook URL")
    slack_url_env: str | None = Field(
        default=None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="env var holding a Slack URL"
    )
    alertmanager: str | None = Field(default=None, description="Alertmanager base URL")
    token_env: str | None = Field(
        default=None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="env var with a bearer token"
    )
    queue_size: int = Field(default=1000, ge=1, le=100_000)


class AlertsSection(_Strict):
    """The whole ``alerts:`` section."""

    rules: Rules = Rules()
    actions: Actions = Actions()
    predictions: list[PredictionRule] = Field(default_factory=list, max_length=50)
    notify: Notify | None = None
    labels: dict[str, str] = Field(
        default_factory=dict, description="extra labels on this model's alerts (e.g. team)"
    )

    @model_validator(mode="after")
    def _notify_needs_target(self) -> AlertsSection:
        if self.predictions and self.notify is None:
            raise ValueError("predictions need a notify: section saying where to send them")
        return self


def merged_rules(defaults: Rules, overrides: dict[str, Any] | None) -> Rules:
    """``defaults`` with the per-model overrides (only the fields a bundle named) on top."""
    if not overrides:
        return defaults
    data = defaults.model_dump(by_alias=True)
    for name, values in overrides.items():
        if name in data and isinstance(values, dict):
            data[name] = {**data[name], **values}
    return Rules.model_validate(data)
