"""The monitor engine as ``mlctl tui`` runs it in-process: it keeps the Store current.

The same parts as ``mlctl monitor run`` (:class:`mlctl.monitor.engine.Monitor`): the
:class:`~mlctl.monitor.follower.Follower` (event stream, REST resync, polling fallback,
backoff) writes the Store, the :class:`~mlctl.monitor.prober.Prober` adds each model's
readiness, request rate, latency and error rate, and the health rules
(:mod:`mlctl.monitor.rules` into an :class:`~mlctl.monitor.alerts.AlertBook`) turn
snapshots into alerts. What the TUI leaves out on purpose, and why it composes the
parts instead of running a ``Monitor``:

- receivers, actions and saved state: the deployed monitor notifies, acts and keeps
  ``mlctl/monitor/*``; a copy in every operator's terminal would page people twice,
  restart things twice and overwrite the monitor's state;
- the "endpoint unreachable" rule: an operator's laptop often cannot reach the
  cluster's network, which says nothing about whether the model answers there.

``mlctl.session.monitor()`` builds the whole :class:`~mlctl.monitor.engine.Monitor`; the
TUI cannot use it as it is, because that engine also runs the opt-in actions, saves its
state to and publishes under ``mlctl/monitor/*`` with the operator's token. A watch-only
mode of ``Monitor`` would let this module shrink to a call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from mlctl.bundle.alerts import Rules, merged_rules
from mlctl.monitor.alerts import AlertBook
from mlctl.monitor.clock import Clock
from mlctl.monitor.follower import Follower, FollowerOptions
from mlctl.monitor.prober import Prober
from mlctl.monitor.rules import Context, evaluate
from mlctl.monitor.store import Store
from mlctl.monitor.tokens import TokenSource
from mlctl.monitor.views import ModelView
from mlctl.nomad.client import NomadClient

#: Seconds between two evaluations of the health rules.
RULES_INTERVAL = 2.0
#: Seconds between two probes of every endpoint (the monitor's default).
PROBE_INTERVAL = 15.0
PROBE_TIMEOUT = 3.0
#: Conditions only the monitor inside the cluster can judge.
NOT_JUDGED_HERE = frozenset({"ModelEndpointUnreachable"})
DEFAULT_RULES = Rules()


def rules_for(model: ModelView) -> Rules:
    """The model's thresholds: the defaults with its bundle's ``alerts.rules`` on top."""
    overrides = model.alert_settings.get("rules")
    try:
        return merged_rules(DEFAULT_RULES, overrides if isinstance(overrides, dict) else None)
    except ValueError:  # a bundle validated before its rules were tightened: keep going
        return DEFAULT_RULES


def extra_labels(model: ModelView) -> dict[str, str]:
    labels = model.alert_settings.get("labels")
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


class Engine:
    """Runs the follower and the rules on daemon threads until :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        connect: Callable[[str | None], NomadClient],
        tokens: TokenSource,
        clock: Clock,
        options: FollowerOptions | None = None,
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.log = log
        self.follower = Follower(store, connect, tokens, clock, log, options)
        self.prober = Prober(store, clock, PROBE_TIMEOUT)
        self.book = AlertBook()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Engine:
        parts = (
            ("tui-follower", self._follow),
            ("tui-rules", self._rules),
            ("tui-prober", self._probe),
        )
        for name, target in parts:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _follow(self) -> None:
        self.follower.run(self._stop)

    def _rules(self) -> None:
        while not self._stop.wait(RULES_INTERVAL):
            self.evaluate_once()

    def _probe(self) -> None:
        while not self._stop.wait(PROBE_INTERVAL):
            snapshot = self.store.snapshot()
            if snapshot.synced:
                try:
                    self.prober.probe_all(snapshot)
                except Exception as error:  # a probe never stops the TUI; the next one tries
                    self.log(f"probe failed: {type(error).__name__}: {error}")
                    continue
                self.store.publish()

    def evaluate_once(self) -> list[Any]:
        """One pass of the health rules over the current snapshot."""
        snapshot = self.store.snapshot()
        if not snapshot.synced or not snapshot.connected:
            return []  # stale data must neither raise nor resolve alerts (as the monitor)
        now = self.clock()
        context = Context(snapshot, now, rules_for, extra_labels)
        conditions = [c for c in evaluate(context) if c.alertname not in NOT_JUDGED_HERE]
        transitions = self.book.update(conditions, now)
        self.store.set_alerts(self.book.alerts())
        self.store.publish()
        return transitions
