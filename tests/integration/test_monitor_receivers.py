"""Receivers against real servers: a webhook sink, aiosmtpd with STARTTLS and AUTH, and
Debian's Alertmanager; the outbox keeps and retries what a dead receiver refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from mlctl import redact
from mlctl.monitor.alerts import fingerprint
from mlctl.monitor.clock import utc_now
from mlctl.monitor.config import EmailConfig, SecretRef, WebhookConfig
from mlctl.monitor.outbox import Outbox
from mlctl.monitor.receivers import AlertmanagerPush, Email, Secrets, Webhook
from mlctl.monitor.routing import Notification
from mlctl.monitor.views import Alert, frozen_map
from tests.integration.monitor_servers import (
    Alertmanager,
    SmtpServer,
    WebhookSink,
    free_port,
    start_alertmanager,
    wait_ready,
)
from tests.integration.monitor_support import wait_for


def make_alert(resolved: bool = False, model: str = "iris") -> Alert:
    labels = {
        "alertname": "ModelCrashLooping",
        "model": model,
        "namespace": "default",
        "severity": "critical",
        "alloc": "0f3c1d2e-aaaa",
    }
    start = utc_now().replace(microsecond=0) - timedelta(minutes=5)
    return Alert(
        labels=frozen_map(labels),
        annotations=frozen_map(
            {"summary": f"{model} is crash-looping", "description": "crashed 4 times in 10m"}
        ),
        starts_at=start,
        ends_at=start + timedelta(minutes=4) if resolved else None,
        fingerprint=fingerprint(labels),
    )


def notification(*alerts: Alert) -> Notification:
    return Notification(
        id="n1",
        receiver="default",
        group_key='{}:{alertname="ModelCrashLooping", model="iris"}',
        group_labels={"alertname": "ModelCrashLooping", "model": "iris"},
        status="firing" if any(a.ends_at is None for a in alerts) else "resolved",
        alerts=alerts,
        created=utc_now(),
    )


@pytest.fixture
def outbox_stop() -> Iterator[threading.Event]:
    stop = threading.Event()
    yield stop
    stop.set()


def events() -> tuple[list[dict[str, Any]], Any]:
    seen: list[dict[str, Any]] = []

    def log(kind: str, **fields: Any) -> None:
        seen.append({"kind": kind, **fields})

    return seen, log


def test_webhook_payload_is_alertmanagers_and_carries_the_token_from_env(
    webhook_sink: WebhookSink,
) -> None:
    secrets = Secrets({"HOOK_TOKEN": "tok-123456-secret"})
    hook = Webhook(
        "webhook:0",
        WebhookConfig(url=webhook_sink.url, bearer_token=SecretRef(env="HOOK_TOKEN")),
        secrets,
        requests.Session(),
    )
    hook.deliver(hook.render(notification(make_alert())))
    (body,) = webhook_sink.bodies()
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["commonLabels"]["alertname"] == "ModelCrashLooping"
    assert body["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert webhook_sink.headers[0]["authorization"] == "Bearer tok-123456-secret"
    assert "tok-123456" not in hook.description
    assert redact.scrub("tok-123456-secret") == "[redacted]"


def test_a_missing_secret_is_a_clear_configuration_error() -> None:
    from mlctl.errors import ConfigError

    with pytest.raises(ConfigError, match="environment variable NOPE is not set"):
        Secrets({}).get(SecretRef(env="NOPE"), "webhook:0")


def test_email_goes_out_over_starttls_with_auth(smtp_server: SmtpServer) -> None:
    config = EmailConfig.model_validate(
        {
            "to": ["ops@example.com"],
            "from": "mlctl@example.com",
            "smarthost": smtp_server.smarthost,
            "username": smtp_server.username,
            "password": {"env": "SMTP_PASSWORD"},
            "ca_file": str(smtp_server.ca_file),
        }
    )
    mail = Email("email:0", config, Secrets({"SMTP_PASSWORD": smtp_server.password}))
    mail.deliver(mail.render(notification(make_alert())))
    (message,) = smtp_server.messages
    assert message["Subject"] == "[FIRING:1] ModelCrashLooping iris"
    assert message["To"] == "ops@example.com"
    assert "iris is crash-looping" in message.get_payload()
    assert smtp_server.logins == ["mlctl"]


def test_email_refuses_an_unverified_certificate(smtp_server: SmtpServer) -> None:
    from mlctl.monitor.receivers import DeliveryFailed

    config = EmailConfig.model_validate(
        {"to": ["ops@example.com"], "from": "m@example.com", "smarthost": smtp_server.smarthost}
    )
    mail = Email("email:0", config, Secrets({}))
    with pytest.raises(DeliveryFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        mail.deliver(mail.render(notification(make_alert())))


def test_alertmanager_receives_our_alerts_with_the_same_fingerprint(
    alertmanager: Alertmanager,
) -> None:
    push = AlertmanagerPush("am:0", alertmanager.url, requests.Session())
    firing = make_alert()
    push.deliver(push.render_alerts([firing]))
    listed = wait_for(lambda: alertmanager.alerts(), "Alertmanager to list the alert")
    assert listed[0]["fingerprint"] == firing.fingerprint
    assert listed[0]["labels"] == dict(firing.labels)
    # Alertmanager routes it to its own webhook: our payload has exactly its keys.
    theirs = wait_for(lambda: alertmanager.sink.bodies(), "Alertmanager's webhook")[0]
    ours = Webhook(
        "w", WebhookConfig(url="http://x/"), Secrets({}), requests.Session()
    ).render(notification(firing))
    assert set(ours) == set(theirs)
    assert set(ours["alerts"][0]) == set(theirs["alerts"][0])
    assert theirs["alerts"][0]["fingerprint"] == ours["alerts"][0]["fingerprint"]
    push.deliver(push.render_alerts([make_alert(resolved=True)]))
    wait_for(
        lambda: any(b["status"] == "resolved" for b in alertmanager.sink.bodies()),
        "the resolution to reach Alertmanager's receiver",
    )


def test_dead_receivers_are_retried_in_order_without_stalling_the_others(
    webhook_sink: WebhookSink, smtp_server: SmtpServer, tmp_path: Path, outbox_stop: Any
) -> None:
    am_port = free_port()
    am_url = f"http://127.0.0.1:{am_port}"
    hook = Webhook("webhook:0", WebhookConfig(url=webhook_sink.url), Secrets({}),
                   requests.Session())  # fmt: skip
    config = EmailConfig.model_validate(
        {"to": ["ops@example.com"], "from": "m@example.com", "smarthost": smtp_server.smarthost,
         "username": "mlctl", "password": {"env": "P"}, "ca_file": str(smtp_server.ca_file)}
    )  # fmt: skip
    mail = Email("email:0", config, Secrets({"P": smtp_server.password}))
    push = AlertmanagerPush("am:0", am_url, requests.Session())
    seen, log = events()
    outbox = Outbox([hook, mail, push], utc_now, log, backoff_base=0.05, backoff_cap=0.2)
    outbox.start(outbox_stop)

    webhook_sink.down = True  # answers 503
    smtp_server.stop()  # refuses connections
    first, second = notification(make_alert()), notification(make_alert(model="bert"))
    for n in (first, second):
        for integration in (hook, mail, push):
            outbox.submit(integration.id, integration.render(n), f"{n.status} {n.group_key}")
    wait_for(lambda: len([e for e in seen if e["status"] == "retrying"]) >= 3, "retries")
    assert webhook_sink.bodies() == [] and smtp_server.messages == []

    smtp_server.start()  # email recovers while the webhook and Alertmanager are still down
    wait_for(lambda: len(smtp_server.messages) == 2, "both emails")
    assert webhook_sink.bodies() == []

    webhook_sink.down = False
    wait_for(lambda: len(webhook_sink.bodies()) == 2, "both webhooks")
    assert [b["alerts"][0]["labels"]["model"] for b in webhook_sink.bodies()] == ["iris", "bert"]

    am = start_alertmanager(tmp_path / "am", webhook_sink.url, am_port)
    try:
        wait_ready(am_url)
        wait_for(lambda: outbox.pending() == [], "Alertmanager deliveries")
        models = {a["labels"]["model"] for a in requests.get(f"{am_url}/api/v2/alerts",
                                                             timeout=5).json()}  # fmt: skip
        assert models == {"iris", "bert"}
    finally:
        am.terminate()
        am.wait(timeout=20)
    assert [outbox.delivered(i) for i in ("webhook:0", "email:0", "am:0")] == [2, 2, 2]


def test_undelivered_items_survive_a_restart(webhook_sink: WebhookSink, outbox_stop: Any) -> None:
    hook = Webhook("webhook:0", WebhookConfig(url=webhook_sink.url), Secrets({}),
                   requests.Session())  # fmt: skip
    _seen, log = events()
    before = Outbox([hook], utc_now, log)  # never started: as if killed before delivering
    before.submit(hook.id, hook.render(notification(make_alert())), "firing iris")
    saved = before.dump()
    after = Outbox([hook], utc_now, log, backoff_base=0.05, backoff_cap=0.1)
    assert after.load(saved) == 1
    after.start(outbox_stop)
    wait_for(lambda: len(webhook_sink.bodies()) == 1, "the saved delivery")


def test_slack_gets_text_from_a_url_kept_in_the_environment(webhook_sink: WebhookSink) -> None:
    from mlctl.monitor.config import SlackConfig
    from mlctl.monitor.receivers import Slack

    slack = Slack(
        "slack:0",
        SlackConfig(url=SecretRef(env="SLACK_URL"), channel="#ml"),
        Secrets({"SLACK_URL": webhook_sink.url + "/services/T000/B000/secretpart"}),
        requests.Session(),
    )
    slack.deliver(slack.render(notification(make_alert(), make_alert(resolved=True))))
    (body,) = webhook_sink.bodies()
    assert set(body) == {"text", "channel"} and body["channel"] == "#ml"
    assert body["text"].startswith("[FIRING:1] ModelCrashLooping iris")
    assert "RESOLVED: iris is crash-looping" in body["text"]
    assert "secretpart" not in slack.description
