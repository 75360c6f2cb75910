"""Build the monitor's configuration from the config file plus ``mlctl monitor run``'s
flags (pure: the environment is passed in).

Flags add to the ``default`` receiver: ``--webhook URL`` (repeatable), ``--slack ENV``
(the *name* of the environment variable holding the Slack URL: the URL is a secret and
never an argument), ``--email-to ADDR`` (SMTP settings from ``MLCTL_SMTP_HOST``
``host:port``, ``MLCTL_SMTP_FROM``, ``MLCTL_SMTP_USER``, ``MLCTL_SMTP_PASSWORD``,
``MLCTL_SMTP_CA_FILE``), ``--alertmanager URL`` (repeatable), ``--event-log PATH``.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlctl.errors import ConfigError, InvalidInput
from mlctl.monitor import config as config_module
from mlctl.monitor.config import DEFAULT_RECEIVER, MonitorConfig

SMTP_HOST = "MLCTL_SMTP_HOST"
SMTP_FROM = "MLCTL_SMTP_FROM"
SMTP_USER = "MLCTL_SMTP_USER"
SMTP_PASSWORD = "MLCTL_SMTP_PASSWORD"  # noqa: S105 - the name of a variable, not a secret
SMTP_CA_FILE = "MLCTL_SMTP_CA_FILE"


def _default_receiver(data: dict[str, Any]) -> dict[str, Any]:
    receivers = data.setdefault("receivers", [])
    for receiver in receivers:
        if receiver.get("name") == DEFAULT_RECEIVER:
            return dict(receiver)
    created: dict[str, Any] = {"name": DEFAULT_RECEIVER}
    receivers.append(created)
    return created


def _email(to: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
    host = env.get(SMTP_HOST)
    if not host:
        raise ConfigError(
            f"--email-to needs an SMTP server: set {SMTP_HOST}=host:port",
            hint=f"also {SMTP_FROM}, {SMTP_USER} and {SMTP_PASSWORD} (STARTTLS is required)",
        )
    email: dict[str, Any] = {
        "to": list(to),
        "from": env.get(SMTP_FROM) or f"mlctl-monitor@{socket.gethostname()}",
        "smarthost": host,
    }
    if env.get(SMTP_USER):
        email["username"] = env[SMTP_USER]
    if env.get(SMTP_PASSWORD):
        email["password"] = {"env": SMTP_PASSWORD}
    if env.get(SMTP_CA_FILE):
        email["ca_file"] = env[SMTP_CA_FILE]
    return email


def with_flags(
    base: MonitorConfig,
    *,
    webhooks: Sequence[str] = (),
    slack: str | None = None,
    email_to: Sequence[str] = (),
    alertmanagers: Sequence[str] = (),
    event_log: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> MonitorConfig:
    """``base`` with the command-line additions, validated again as a whole."""
    env = env or {}
    data = base.model_dump(by_alias=True, exclude_unset=True, mode="json")
    if webhooks or slack or email_to:
        receiver = _default_receiver(data)
        receiver.setdefault("webhook", []).extend({"url": url} for url in webhooks)
        if slack:
            if not re.fullmatch(config_module.ENV_NAME, slack):
                raise InvalidInput(
                    f"--slack {slack[:12]}…: give the name of the environment variable that "
                    "holds the Slack webhook URL (the URL is a secret, never an argument)",
                    hint="export SLACK_WEBHOOK_URL=…; mlctl monitor run --slack SLACK_WEBHOOK_URL",
                )
            receiver.setdefault("slack", []).append({"url": {"env": slack}})
        if email_to:
            receiver.setdefault("email", []).append(_email(email_to, env))
        data["receivers"] = [
            receiver if r.get("name") == DEFAULT_RECEIVER else r for r in data["receivers"]
        ]
    if alertmanagers:
        data["alertmanagers"] = [*data.get("alertmanagers", []), *alertmanagers]
    if event_log is not None:
        data["event_log"] = str(event_log)
    return config_module.parse(data, "mlctl monitor run")
