"""The monitor's configuration file (``mlctl monitor run --config monitor.yaml``).

Validated like bundles: unknown fields are errors, and every problem is reported as
``file: field: what is wrong``. Flags of ``mlctl monitor run`` (``--webhook``,
``--slack``, ``--alertmanager``, ``--email-to``, ``--event-log``) add to it.

Secrets are never written here: a receiver names the environment variable (``*_env``)
or the Nomad Variable item (``*_var``, ``path#item`` in the monitor's state namespace)
that holds its password, token or secret URL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlctl.bundle.alerts import Duration, Rules
from mlctl.errors import InvalidInput, NotFound

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
VAR_REF = r"^[a-zA-Z0-9_~/\-]{1,128}#[A-Za-z0-9_.-]{1,64}$"
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
DEFAULT_RECEIVER = "default"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SecretRef(_Strict):
    """Where a secret comes from: an environment variable or a Nomad Variable item."""

    env: str | None = Field(default=None, pattern=ENV_NAME)
    var: str | None = Field(default=None, pattern=VAR_REF, description="path#item")

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.var is None):
            raise ValueError("give exactly one of env (a variable name) or var (path#item)")
        return self


class WebhookConfig(_Strict):
    url: str = Field(pattern=r"^https?://")
    bearer_token: SecretRef | None = None
    max_alerts: int = Field(default=0, ge=0, description="0: all alerts of a group")


class SlackConfig(_Strict):
    url: SecretRef = Field(description="the incoming-webhook URL is itself a secret")
    channel: str | None = None


class EmailConfig(_Strict):
    to: list[str] = Field(min_length=1)
    sender: str = Field(alias="from")
    smarthost: str = Field(pattern=r"^[^:\s]+:\d{1,5}$", description="host:port")
    username: str | None = None
    password: SecretRef | None = None
    starttls: bool = True
    ca_file: Path | None = Field(default=None, description="CA bundle for the SMTP server")

    @model_validator(mode="after")
    def _no_plaintext_auth(self) -> EmailConfig:
        if self.password is not None and not self.starttls:
            raise ValueError("refusing to send an SMTP password without STARTTLS")
        if self.password is not None and not self.username:
            raise ValueError("a password needs a username")
        return self


class ReceiverConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    send_resolved: bool = True
    webhook: list[WebhookConfig] = Field(default_factory=list)
    slack: list[SlackConfig] = Field(default_factory=list)
    email: list[EmailConfig] = Field(default_factory=list)


class RouteConfig(_Strict):
    receiver: str | None = None
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: list[RouteConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _regexes_compile(self) -> RouteConfig:
        for name, pattern in self.match_re.items():
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"match_re.{name}: {error}") from None
        for name in [*self.match, *self.match_re, *(self.group_by or [])]:
            if name != "..." and not re.fullmatch(LABEL_NAME, name):
                raise ValueError(f"{name!r} is not a label name")
        return self


class Intervals(_Strict):
    rules: Duration = Field(default=5.0, gt=0, description="evaluate health rules")
    probe: Duration = Field(default=15.0, gt=0, description="probe every endpoint")
    actions: Duration = Field(default=10.0, gt=0, description="plan automatic actions")
    publish: Duration = Field(default=5.0, gt=0, description="publish alerts and events")
    schedules: Duration = Field(default=30.0, gt=0, description="apply start/stop schedules")
    notes: Duration = Field(default=30.0, gt=0, description="read operators' silences")
    alertmanager_resend: Duration = Field(default=60.0, gt=0)


class StreamConfig(_Strict):
    heartbeat_timeout: Duration = Field(default=65.0, gt=0)
    poll_wait: Duration = Field(default=30.0, gt=0)
    stream_retry: Duration = Field(default=300.0, gt=0)


class LeaderConfig(_Strict):
    """One acting monitor per cluster: a lock on a Nomad Variable (Nomad >= 1.7)."""

    enabled: bool = Field(default=True, description="off: act without taking the lock")
    path: str = Field(default="mlctl/monitor/leader", pattern=r"^[a-zA-Z0-9_~/\-]{1,128}$")
    ttl: Duration = Field(default=15.0, ge=10, le=86400, description="Nomad allows 10s-24h")
    lock_delay: Duration = Field(default=15.0, gt=0, le=86400)


class MonitorConfig(_Strict):
    """The whole file; every section is optional."""

    state_namespace: str = Field(default="default", description="where mlctl/monitor/* live")
    state: Literal["nomad", "file"] = "nomad"
    state_file: Path | None = None
    event_log: Path | None = None
    intervals: Intervals = Intervals()
    stream: StreamConfig = StreamConfig()
    defaults: Rules = Rules()
    route: RouteConfig = RouteConfig(receiver=DEFAULT_RECEIVER)
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    alertmanagers: list[str] = Field(default_factory=list)
    probe_timeout: Duration = Field(default=3.0, gt=0)
    outbox_limit: int = Field(default=1000, ge=1, description="undelivered per integration")
    labels: dict[str, str] = Field(default_factory=dict, description="added to every alert")
    leader: LeaderConfig = LeaderConfig()

    @model_validator(mode="after")
    def _receivers_exist(self) -> MonitorConfig:
        names = [r.name for r in self.receivers]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"receiver names must be unique; repeated: {', '.join(repeated)}")
        known = {*names, DEFAULT_RECEIVER}  # "default" exists implicitly (event log only)
        for route in _walk(self.route):
            if route.receiver is not None and route.receiver not in known:
                raise ValueError(f"route names receiver {route.receiver!r}, which is not defined")
        for url in self.alertmanagers:
            if not re.match(r"^https?://", url):
                raise ValueError(f"alertmanagers: {url!r} is not an http(s) URL")
        return self


def _walk(route: RouteConfig) -> list[RouteConfig]:
    return [route, *(r for child in route.routes for r in _walk(child))]


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse(data: Any, source: str) -> MonitorConfig:
    """Validate ``data``; every problem in one InvalidInput, one line each."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: the monitor config must be a mapping")
    try:
        return MonitorConfig.model_validate(data)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            message = str(problem["msg"]).removeprefix("Value error, ")
            lines.append(f"{source}: {_where(tuple(problem['loc']))}: {message}")
        raise InvalidInput("; ".join(lines)) from None


def load(path: Path) -> MonitorConfig:
    """Read and validate a monitor config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such monitor config file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InvalidInput(f"{path}: not valid YAML{where}") from None
    return parse(data, str(path))
