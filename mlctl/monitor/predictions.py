"""Notifications after predictions (seed 002): rules on what a model predicts.

A bundle's ``alerts.predictions`` rules ("the predicted class is fraud", "score above
0.9") are evaluated by the model server itself, **off the request path**: a request
only offers its predictions to a bounded queue (``put_nowait``; when the queue is full
the batch is dropped and counted), and a worker thread evaluates the rules, calls the
contract's optional ``on_prediction(predictions)`` hook (which may return extra
notifications as dicts with ``rule``, ``summary``, ``severity``), aggregates matches
per rule over ``window`` seconds, and sends one notification per rule and window — to
an Alertmanager-format webhook, a Slack URL and/or an Alertmanager, like the monitor's
receivers. A dead receiver costs only the worker's time, never a request's.

:func:`matches` is pure; :class:`PredictionNotifier` holds the queue and the thread.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests

from mlctl.bundle.alerts import Notify, PredictionRule
from mlctl.monitor import payloads
from mlctl.monitor.alerts import fingerprint
from mlctl.monitor.clock import Clock, utc_now
from mlctl.monitor.receivers import DeliveryFailed, post_json
from mlctl.monitor.routing import Notification
from mlctl.monitor.views import Alert, frozen_map

Hook = Callable[[Any], Any]
SAMPLES = 3  #: example values kept per rule and window


def rows(predictions: Any) -> list[Any]:
    """Predictions as a list of rows, whatever the server produced (numpy arrays, lists,
    or OIP outputs by name, which become one dict per row)."""
    if hasattr(predictions, "tolist"):
        predictions = predictions.tolist()
    if isinstance(predictions, Mapping):
        columns = {k: rows(v) for k, v in predictions.items()}
        length = max((len(v) for v in columns.values()), default=0)
        return [{k: v[i] for k, v in columns.items() if i < len(v)} for i in range(length)]
    if isinstance(predictions, list | tuple):
        return list(predictions)
    return [predictions]


def _pick(row: Any, path: str | None) -> Any:
    value = row
    for part in (path or "").split(".") if path else []:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list | tuple) and part.lstrip("-").isdigit():
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            return None
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def hit(rule: PredictionRule, value: Any) -> bool:
    if rule.equals is not None:
        return value == rule.equals or (isinstance(rule.equals, str) and str(value) == rule.equals)
    if rule.one_of is not None:
        return value in rule.one_of or str(value) in {str(v) for v in rule.one_of}
    number = _number(value)
    if number is None:
        return False
    if rule.above is not None:
        return number > rule.above
    return rule.below is not None and number < rule.below


@dataclass(frozen=True)
class Match:
    rule: str
    value: Any
    severity: str
    message: str = ""


def matches(rules: Sequence[PredictionRule], predictions: Any) -> list[Match]:
    """Every (rule, row) that matches, in row order."""
    out = []
    for row in rows(predictions):
        for rule in rules:
            value = _pick(row, rule.field)
            if hit(rule, value):
                out.append(Match(rule.name, value, rule.severity, rule.message))
    return out


@dataclass
class _Tally:
    severity: str
    message: str
    count: int = 0
    samples: list[Any] = field(default_factory=list)


@dataclass
class Counters:
    offered: int = 0
    dropped: int = 0
    matched: int = 0
    sent: int = 0
    failed: int = 0
    hook_errors: int = 0


class PredictionNotifier:
    def __init__(
        self,
        model: str,
        version: str,
        rules: Sequence[PredictionRule],
        notify: Notify,
        env: Mapping[str, str],
        hook: Callable[[], Hook | None] | None = None,
        window: float = 10.0,
        clock: Clock = utc_now,
        session: requests.Session | None = None,
    ) -> None:
        self.model = model
        self.version = version
        self.rules = list(rules)
        self.hook = hook
        self.window = window
        self.clock = clock
        self.counters = Counters()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=notify.queue_size)
        self._session = session or requests.Session()
        self._targets = _targets(notify, env)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="prediction-rules", daemon=True)
        self._tallies: dict[str, _Tally] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self._flush()

    def observe(self, exchange: Any) -> None:
        """The model server's observer (``ServerState.observers``): called on the event
        loop after a response went out; prediction routes' answers are offered."""
        route = str(getattr(exchange, "route", ""))
        reply = getattr(exchange, "reply", None)
        if reply is None or getattr(reply, "status", 200) != 200:
            return
        if route == "/predict" or route.endswith("/infer"):
            self.offer(reply.result)

    def offer(self, predictions: Any) -> None:
        """On the request path: hand over, never wait; a full queue drops and counts."""
        self.counters.offered += 1
        try:
            self._queue.put_nowait(predictions)
        except queue.Full:
            self.counters.dropped += 1

    def drain(self) -> None:
        """Evaluate everything queued and send what is due (tests; the worker does this)."""
        while True:
            try:
                self._evaluate(self._queue.get_nowait())
            except queue.Empty:
                break
        self._flush()

    def _work(self) -> None:
        deadline = time.monotonic() + self.window
        while not self._stop.is_set():
            with contextlib.suppress(queue.Empty):
                self._evaluate(self._queue.get(timeout=min(0.5, self.window)))
            if time.monotonic() >= deadline:
                self._flush()
                deadline = time.monotonic() + self.window

    def _evaluate(self, predictions: Any) -> None:
        found = matches(self.rules, predictions)
        hook = self.hook() if self.hook is not None else None
        if hook is not None:
            found += self._from_hook(hook, predictions)
        for match in found:
            self.counters.matched += 1
            tally = self._tallies.setdefault(match.rule, _Tally(match.severity, match.message))
            tally.count += 1
            if len(tally.samples) < SAMPLES:
                tally.samples.append(match.value)

    def _from_hook(self, hook: Hook, predictions: Any) -> list[Match]:
        try:
            extra = hook(predictions)
        except Exception:  # user code: count, never let it stop the worker
            self.counters.hook_errors += 1
            return []
        out = []
        for item in extra or []:
            if isinstance(item, Mapping) and item.get("rule"):
                out.append(
                    Match(
                        str(item["rule"]),
                        item.get("value"),
                        str(item.get("severity") or "info"),
                        str(item.get("summary") or ""),
                    )
                )
        return out

    def _flush(self) -> None:
        tallies, self._tallies = self._tallies, {}
        if not tallies:
            return
        now = self.clock()
        for name, tally in sorted(tallies.items()):
            self._send(self._alert(name, tally, now))

    def _alert(self, name: str, tally: _Tally, now: datetime) -> Alert:
        labels = {
            "alertname": "ModelPredictionRule",
            "rule": name,
            "model": self.model,
            "version": self.version,
            "severity": tally.severity,
        }
        samples = ", ".join(repr(s) for s in tally.samples)
        summary = tally.message or f"{self.model} predicted what rule {name} watches for"
        return Alert(
            labels=frozen_map(labels),
            annotations=frozen_map(
                {
                    "summary": summary,
                    "description": f"{tally.count} predictions of {self.model} "
                    f"{self.version} matched rule {name} in the last {self.window:g}s "
                    f"(e.g. {samples})",
                }
            ),
            starts_at=now,
            ends_at=now + timedelta(minutes=5),
            fingerprint=fingerprint(labels),
        )

    def _send(self, alert: Alert) -> None:
        note = Notification(
            id=alert.fingerprint,
            receiver="predictions",
            group_key=f'{{}}:{{model="{self.model}", rule="{alert.labels["rule"]}"}}',
            group_labels={"model": self.model, "rule": alert.labels["rule"]},
            status="firing",
            alerts=(alert,),
            created=alert.starts_at,
        )
        for kind, url, headers in self._targets:
            if kind == "webhook":
                body: Any = payloads.webhook(note)
            elif kind == "slack":
                body = payloads.slack_text(note)
            else:
                body = payloads.alertmanager_alerts([alert])
            try:
                post_json(self._session, url, body, headers)
                self.counters.sent += 1
            except DeliveryFailed:
                self.counters.failed += 1


def _targets(notify: Notify, env: Mapping[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    headers: dict[str, str] = {}
    if notify.token_env and env.get(notify.token_env):
        from mlctl import redact

        redact.register(env[notify.token_env])
        headers["Authorization"] = f"Bearer {env[notify.token_env]}"
    out: list[tuple[str, str, dict[str, str]]] = []
    if notify.webhook:
        out.append(("webhook", notify.webhook, headers))
    if notify.slack_url_env and env.get(notify.slack_url_env):
        out.append(("slack", env[notify.slack_url_env], {}))
    if notify.alertmanager:
        out.append(("alertmanager", notify.alertmanager.rstrip("/") + "/api/v2/alerts", {}))
    return out


def close_quietly(notifier: PredictionNotifier | None) -> None:
    if notifier is not None:
        with contextlib.suppress(Exception):
            notifier.stop()


def build_notifier(
    config: Any, env: Mapping[str, str], hook: Callable[[], Hook | None] | None = None
) -> PredictionNotifier | None:
    """The notifier of a bundle (its ``alerts.predictions`` and ``alerts.notify``), or
    None when it declares no prediction rules and no hook could add any."""
    alerts = getattr(config, "alerts", None)
    if alerts is None or alerts.notify is None:
        return None
    return PredictionNotifier(
        config.name, config.version, alerts.predictions, alerts.notify, env, hook=hook
    )
