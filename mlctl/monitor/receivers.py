"""The integrations that deliver notifications: webhook, Slack, email, Alertmanager.

Each integration turns a notification into its payload once (:meth:`render`), so what
the outbox keeps and retries is final, JSON-serialisable data, and then delivers it
(:meth:`deliver`), raising :class:`DeliveryFailed` with a one-line reason. Nothing here
retries: the outbox does, per integration, so a dead receiver never stalls another.

Secrets (a webhook's bearer token, Slack's URL, the SMTP password) are resolved once by
:class:`Secrets` from the environment or a Nomad Variable item, registered with
:mod:`mlctl.redact`, and never appear in descriptions, logs or errors.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests

from mlctl import redact
from mlctl.errors import ConfigError
from mlctl.monitor import payloads
from mlctl.monitor.config import EmailConfig, SecretRef, SlackConfig, WebhookConfig
from mlctl.monitor.routing import Notification
from mlctl.monitor.views import Alert

TIMEOUT = 10.0
JSON = dict[str, Any]


class DeliveryFailed(Exception):
    """A delivery attempt failed; the message is safe to log.

    ``permanent`` failures (the receiver refused the payload itself: HTTP 4xx other than
    408 and 429) are not retried — retrying would block the queue forever — but logged.
    """

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Integration(Protocol):
    id: str
    description: str

    def render(self, notification: Notification) -> JSON: ...

    def deliver(self, payload: JSON) -> None: ...


VarReader = Callable[[str, str], str | None]


class Secrets:
    """Resolve :class:`SecretRef` values from the environment or Nomad Variables."""

    def __init__(self, env: Mapping[str, str], read_var: VarReader | None = None) -> None:
        self._env = env
        self._read_var = read_var

    def get(self, ref: SecretRef, what: str) -> str:
        if ref.env is not None:
            value = self._env.get(ref.env)
            source = f"environment variable {ref.env}"
        else:
            assert ref.var is not None
            path, _, item = ref.var.partition("#")
            if self._read_var is None:
                raise ConfigError(f"{what}: Nomad Variables are not available here")
            value = self._read_var(path, item)
            source = f"Nomad Variable {path} item {item}"
        if not value:
            raise ConfigError(f"{what}: {source} is not set", hint="set it, then start again")
        redact.register(value)
        return value


def safe_url(url: str) -> str:
    """A URL for logs: scheme, host and path only (queries and userinfo may be secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def post_json(session: requests.Session, url: str, body: Any, headers: dict[str, str]) -> None:
    try:
        answer = session.post(url, json=body, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as error:
        raise DeliveryFailed(
            f"cannot reach {safe_url(url)}: {type(error).__name__}"
        ) from None
    if answer.status_code >= 300:
        text = " ".join(answer.text.split())[:200]
        permanent = 400 <= answer.status_code < 500 and answer.status_code not in (408, 429)
        raise DeliveryFailed(
            f"{safe_url(url)} answered HTTP {answer.status_code}: {text}", permanent
        )


class Webhook:
    """POSTs Alertmanager's webhook payload (version 4)."""

    def __init__(
        self,
        ident: str,
        config: WebhookConfig,
        secrets: Secrets,
        session: requests.Session,
        external_url: str = "",
        generator_url: payloads.GeneratorURL = lambda _a: "",
    ) -> None:
        self.id = ident
        self.description = f"webhook {safe_url(config.url)}"
        self._url = config.url
        self._token = secrets.get(config.bearer_token, self.id) if config.bearer_token else None
        self._max = config.max_alerts
        self._session = session
        self._external = external_url
        self._generator = generator_url

    def render(self, notification: Notification) -> JSON:
        return payloads.webhook(notification, self._external, self._generator, self._max)

    def deliver(self, payload: JSON) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        post_json(self._session, self._url, payload, headers)


class Slack:
    """POSTs ``{"text": ...}`` to a Slack-compatible incoming webhook."""

    def __init__(
        self, ident: str, config: SlackConfig, secrets: Secrets, session: requests.Session
    ) -> None:
        self.id = ident
        self._url = secrets.get(config.url, ident)
        self.description = f"slack {safe_url(self._url).split('/services')[0]}"
        self._channel = config.channel
        self._session = session

    def render(self, notification: Notification) -> JSON:
        return payloads.slack_text(notification, self._channel)

    def deliver(self, payload: JSON) -> None:
        post_json(self._session, self._url, payload, {})


class Email:
    """Sends a plain-text email over SMTP with STARTTLS and AUTH (TLS verified)."""

    def __init__(
        self, ident: str, config: EmailConfig, secrets: Secrets, external_url: str = ""
    ) -> None:
        self.id = ident
        self.description = f"email to {', '.join(config.to)} via {config.smarthost}"
        self._config = config
        self._password = secrets.get(config.password, ident) if config.password else None
        self._external = external_url

    def render(self, notification: Notification) -> JSON:
        return payloads.email(notification, self._external)

    def _context(self) -> ssl.SSLContext:
        ca = self._config.ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def deliver(self, payload: JSON) -> None:
        config = self._config
        host, _, port = config.smarthost.rpartition(":")
        message = EmailMessage()
        message["Subject"] = payload["subject"]
        message["From"] = config.sender
        message["To"] = ", ".join(config.to)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="mlctl.monitor")
        message.set_content(payload["body"])
        try:
            with smtplib.SMTP(host, int(port), timeout=TIMEOUT) as smtp:
                smtp.ehlo()
                if config.starttls:
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                if self._password is not None and config.username:
                    smtp.login(config.username, self._password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException, ssl.SSLError) as error:
            detail = redact.scrub(" ".join(str(error).split()))[:200]
            raise DeliveryFailed(
                f"SMTP {config.smarthost}: {type(error).__name__}: {detail}"
            ) from None


class AlertmanagerPush:
    """Pushes alerts themselves to Alertmanager's ``POST /api/v2/alerts``; Alertmanager
    then groups and routes them with the team's own configuration. An operator's silence
    (``mlctl tui``) becomes an Alertmanager silence (``POST /api/v2/silences``) matching
    exactly the alert's labels, so Alertmanager keeps the alert active but quiet, as its
    own silences do, rather than resolving an alert it stopped hearing about."""

    def __init__(
        self,
        ident: str,
        url: str,
        session: requests.Session,
        generator_url: payloads.GeneratorURL = lambda _a: "",
    ) -> None:
        self.id = ident
        self.description = f"alertmanager {safe_url(url)}"
        self._url = url.rstrip("/") + "/api/v2/alerts"
        self._base = url.rstrip("/")
        self._silences_url = self._base + "/api/v2/silences"
        self._session = session
        self._generator = generator_url

    def render_alerts(self, alerts: list[Alert]) -> JSON:
        return {"alerts": payloads.alertmanager_alerts(alerts, self._generator)}

    def render(self, notification: Notification) -> JSON:
        return self.render_alerts(list(notification.alerts))

    @staticmethod
    def render_silence(
        alert: Alert, starts: datetime, ends: datetime, by: str, comment: str
    ) -> JSON:
        """Alertmanager's PostableSilence for exactly this alert, from ``starts`` to ``ends``."""
        matchers = [
            {"name": name, "value": value, "isRegex": False, "isEqual": True}
            for name, value in sorted(alert.labels.items())
        ]
        return {
            "silence": {
                "matchers": matchers,
                "startsAt": payloads.rfc3339(starts),
                "endsAt": payloads.rfc3339(ends),
                "createdBy": by or "mlctl",
                "comment": f"{comment or 'silenced in mlctl tui'} {_silence_mark(alert)}",
            }
        }

    @staticmethod
    def render_unsilence(alert: Alert) -> JSON:
        """Expire the silences this monitor created for ``alert`` (found by their mark)."""
        return {"unsilence": {"mark": _silence_mark(alert)}}

    def deliver(self, payload: JSON) -> None:
        if "silence" in payload:
            post_json(self._session, self._silences_url, payload["silence"], {})
        elif "unsilence" in payload:
            self._expire_silences(str(payload["unsilence"]["mark"]))
        else:
            post_json(self._session, self._url, payload["alerts"], {})

    def _expire_silences(self, mark: str) -> None:
        listed = self._call("GET", self._silences_url).json()
        for silence in listed if isinstance(listed, list) else []:
            state = (silence.get("status") or {}).get("state")
            if state != "expired" and str(silence.get("comment", "")).endswith(mark):
                ident = quote(str(silence.get("id", "")), safe="")
                self._call("DELETE", f"{self._base}/api/v2/silence/{ident}")

    def _call(self, method: str, url: str) -> requests.Response:
        try:
            answer = self._session.request(method, url, timeout=TIMEOUT)
        except requests.RequestException as error:
            raise DeliveryFailed(f"cannot reach {safe_url(url)}: {type(error).__name__}") from None
        if answer.status_code >= 300 and not (method == "DELETE" and answer.status_code == 404):
            text = " ".join(answer.text.split())[:200]
            raise DeliveryFailed(f"{safe_url(url)} answered HTTP {answer.status_code}: {text}")
        return answer


def _silence_mark(alert: Alert) -> str:
    """The end of the comment of every silence the monitor creates for ``alert``."""
    return f"[mlctl alert {alert.fingerprint}]"
