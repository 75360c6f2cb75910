"""The monitor: wires the follower, Store, prober, rules, alerts, routing, outbox,
actions, reconcilers, state and publication together, and runs them.

Threads (all daemons, all stopped by one event): the follower; the loop, which every
``intervals.rules`` evaluates rules, moves alerts, routes notifications, saves state
and, on their own intervals, plans actions and publishes; the prober; one outbox worker
per receiver integration; one thread per reconciler.

Order inside one loop pass (:meth:`Monitor.tick`) is what makes restarts safe:
conditions -> alert book -> router -> deliveries queued *held* -> state saved ->
deliveries released. A monitor killed at any point re-reads the saved state and
neither repeats what it had told nor forgets what it had still to tell.

While Nomad cannot be reached the alerts are frozen as they were (stale data must not
resolve or raise them) and a ``MonitorDisconnected`` alert fires after a minute.

Silences: operators' notes on alerts (:mod:`mlctl.monitor.notes`, written by ``mlctl
tui``) are read every ``intervals.notes`` on a reconciler thread. A silenced alert stays
in the book, in ``mlctl alerts`` and in the TUI, but the router and Alertmanager pushes
do not see it until its silence ends; what it was told before is remembered, so the end
of a silence re-notifies only what the repeat interval would have.

Leadership (:mod:`mlctl.monitor.leadership`): with several acting monitors on one
cluster only the holder of the leader lock notifies, acts, reconciles, saves state and
publishes; the others follow the cluster (their Store stays warm) as standbys. A
standby that becomes leader reloads the state the old leader saved, so it does not
re-page what was already told; a leader that lost its lease and took it back with
nobody leading meanwhile resumes as it was.

Watch-only (:class:`WatchOptions`, built by :func:`mlctl.session.watch_monitor` for
``mlctl tui``): the same follower, Store, prober and rules, and nothing that acts on
the world — no receivers, no actions, no reconcilers, no state loaded or saved, nothing
published, and an event log without a file.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from mlctl.bundle.alerts import Actions, AlertsSection, Rules, merged_rules
from mlctl.errors import MlctlError, PermissionDenied
from mlctl.monitor import reader
from mlctl.monitor.actions import Planner
from mlctl.monitor.alerts import AlertBook, Transition
from mlctl.monitor.clock import Clock, utc_now
from mlctl.monitor.config import DEFAULT_RECEIVER, MonitorConfig
from mlctl.monitor.eventlog import EventLog
from mlctl.monitor.executor import Executor
from mlctl.monitor.follower import Connect, Follower, FollowerOptions
from mlctl.monitor.leadership import Leadership, RoleChange
from mlctl.monitor.metrics_tokens import MetricsTokens, Obtain
from mlctl.monitor.notes import NO_SILENCES, Silences
from mlctl.monitor.notes import read_all as read_notes
from mlctl.monitor.outbox import Outbox
from mlctl.monitor.prober import Prober
from mlctl.monitor.problems import ProblemLine
from mlctl.monitor.receivers import AlertmanagerPush, Email, Integration, Secrets, Slack, Webhook
from mlctl.monitor.reconcilers import ReconcileFn, Reconciler, Reconcilers
from mlctl.monitor.routing import Notification, Router, build_route
from mlctl.monitor.rules import Condition, Context, evaluate
from mlctl.monitor.state import (
    ALERTS_PATH,
    EVENTS_PATH,
    FileState,
    StateBackend,
    VariableState,
    alerts_item,
    events_item,
)
from mlctl.monitor.store import Snapshot, Store
from mlctl.monitor.tokens import TokenSource
from mlctl.monitor.varstore import Variables
from mlctl.monitor.views import Alert, ModelKey, ModelView
from mlctl.nomad.client import NomadClient

ConditionSource = Callable[[Snapshot, datetime], list[Condition]]
#: Published event-log records kept in memory for ``mlctl/monitor/events``.
PUBLISHED_EVENTS = 500
DISCONNECTED_AFTER = 60.0


#: Conditions a monitor outside the cluster may be unable to judge.
REACHABILITY_ALERT = "ModelEndpointUnreachable"
NOTES_RECONCILER = "alert-notes"


@dataclass(frozen=True)
class WatchOptions:
    """How a watch-only monitor (``mlctl tui``) differs in what it judges.

    It never acts, notifies, publishes or keeps state, whatever these say: it runs with
    an operator's token on an operator's machine, and the deployed monitor already does
    all of that (a second one would page people twice and overwrite its state). Alerts
    stay frozen while Nomad is away, as in every monitor.
    """

    judge_reachability: bool = False
    """Judge "endpoint unreachable" from here. Off by default: an operator's laptop
    often cannot reach the cluster's network, which says nothing about whether the
    models answer there (the deployed monitor judges it from inside)."""
    disconnected_alert: bool = False
    """Raise ``MonitorDisconnected`` when Nomad is away (a TUI says so on its top line)."""


@dataclass(frozen=True)
class MonitorOptions:
    nomad_address: str = ""
    """Used for links to Nomad's UI in alerts (``generatorURL``)."""
    external_url: str = ""
    """Where this monitor can be reached, sent as Alertmanager's ``externalURL``."""
    publish: bool = True
    """Publish alerts and events to Nomad Variables for ``mlctl alerts``/``events``."""
    state_fallback: Path | None = None
    """A state file to use when the token may not write ``mlctl/monitor/*`` Variables."""
    watch: WatchOptions | None = None
    """Set: a watch-only monitor (see :class:`WatchOptions`)."""
    identity: str = ""
    """How this monitor names itself as leader (default: host:pid)."""


class Monitor:
    def __init__(
        self,
        config: MonitorConfig,
        connect: Connect,
        tokens: TokenSource,
        event_log: EventLog,
        *,
        clock: Clock = utc_now,
        env: Mapping[str, str] | None = None,
        options: MonitorOptions | None = None,
        state: StateBackend | None = None,
        follower_options: FollowerOptions | None = None,
        metrics_token: Obtain | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``metrics_token``: how to get the bearer token for ``/metrics`` of servers
        that need one (see :mod:`mlctl.monitor.metrics_tokens`); None sends none.
        ``monotonic``: the clock of the leader lock's lease (tests steer it)."""
        self.config = config
        self.clock = clock
        self.events = event_log
        self.options = options or MonitorOptions()
        self.watch = self.options.watch
        if self.watch is not None:
            self.options = dataclasses.replace(self.options, publish=False)
        self.store = Store()
        stream = config.stream
        self.follower = Follower(
            self.store,
            connect,
            tokens,
            clock,
            log=self._log_line,
            options=follower_options
            or FollowerOptions(
                heartbeat_timeout=stream.heartbeat_timeout,
                poll_wait=stream.poll_wait,
                stream_retry=stream.stream_retry,
            ),
        )
        self.variables = Variables(self.client, config.state_namespace)
        self.state: StateBackend = state or (
            FileState(config.state_file)
            if config.state == "file" and config.state_file
            else VariableState(self.variables)
        )
        self.book = AlertBook()
        self.router = Router(
            build_route(config.route),
            send_resolved={r.name: r.send_resolved for r in config.receivers},
        )
        self._session = requests.Session()
        secrets = Secrets(env or {}, self._read_secret_var)
        self.receivers = self._integrations(secrets) if self.watch is None else {}
        self.alertmanagers = [
            AlertmanagerPush(f"alertmanager:{n}", url, self._session, self.generator_url)
            for n, url in enumerate(config.alertmanagers if self.watch is None else [])
        ]
        integrations: list[Integration] = [i for group in self.receivers.values() for i in group]
        integrations += self.alertmanagers
        self.outbox = Outbox(
            integrations,
            clock,
            self.events.append,
            limit=config.outbox_limit,
            on_change=self._changed,
            may_deliver=self.acting,
        )
        self.metrics_tokens = (
            MetricsTokens(metrics_token, log=self._log_line) if metrics_token else None
        )
        self.prober = Prober(
            self.store,
            clock,
            config.probe_timeout,
            log=self.events.append,
            metrics_tokens=self.metrics_tokens,
        )
        self.planner = Planner()
        self.executor = Executor(self.variables, self.client, clock, self.events.append)
        self.reconcilers = Reconcilers(self.store, clock, self.events.append, may_run=self.acting)
        self.leadership: Leadership | None = None
        if self.watch is None:  # watch-only monitors never take the lock
            self.leadership = Leadership(
                config.leader,
                lambda: self.client().variables,
                config.state_namespace,
                self.options.identity or f"{socket.gethostname()}:{os.getpid()}",
                clock,
                self._log_line,
                monotonic=monotonic,
                on_change=self._role_changed,
            )
        self.silences: Silences = NO_SILENCES
        self._notes_problems = ProblemLine(
            self._log_line,
            "cannot read alert notes (silences): ",
            "alert notes (silences) readable again",
        )
        if self.watch is None:
            self.reconcilers.add(NOTES_RECONCILER, config.intervals.notes, self._read_notes)
        self.condition_sources: list[ConditionSource] = []
        if self.watch is None or self.watch.disconnected_alert:
            self.condition_sources.append(self._disconnected)
        self._recent: deque[dict[str, Any]] = deque(maxlen=PUBLISHED_EVENTS)
        self.events.add_listener(self._recent.append)
        self._settings_cache: dict[tuple[ModelKey, int], AlertsSection] = {}
        self._last_conditions: list[Condition] = []
        self._am_told: dict[str, str] = {}
        self._am_sent_at: datetime | None = None
        self._am_silenced: dict[str, str] = {}  # fingerprint -> end of the silence told
        self._state_loaded = self.watch is not None  # watch-only: nothing to restore
        self._dirty = False
        self._lock = threading.Lock()
        self._next: dict[str, datetime] = {}
        self._published: dict[str, str] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.last_pass = time.monotonic()  #: when the loop last ran (health checks)

    def _log_line(self, line: str) -> None:
        self.events.append("monitor", message=line)

    # ------------------------------------------------------------------ leadership

    def acting(self) -> bool:
        """May this monitor notify, act, reconcile, save and publish right now?"""
        if self.watch is not None:
            return False
        return self.leadership is None or self.leadership.is_leader()

    def _role_changed(self, change: RoleChange) -> None:
        """Losing the lock only pauses: every delivery, action and write asks
        :meth:`acting` first. Becoming leader resumes where this monitor stopped when the
        saved state is still the version it last loaded or saved (a lease that lapsed
        during a network blip, nobody led meanwhile); otherwise it forgets what it knew
        and reloads the saved state — the last leader's — on the next pass, so nothing
        is told twice or lost."""
        message = change.reason
        if change.role == "leader":
            self.executor.forget()  # action histories are CAS-checked; re-read them anyway
            if self._state_loaded and self.state.still_ours():
                message += "; resuming (nobody else led meanwhile)"
            else:
                with self._lock:
                    self._state_loaded = False
                    self._dirty = False
                self.outbox.clear()
                self._next.clear()
                self._published.clear()
        self.events.append("leadership", role=change.role, since=change.since.isoformat(),
                           message=message)  # fmt: skip

    # ------------------------------------------------------------------ public API

    def client(self) -> NomadClient:
        """A Nomad client with the monitor's current token (for reconcilers too)."""
        return self.follower.client()

    def add_reconciler(self, name: str, interval_seconds: float, fn: ReconcileFn) -> Reconciler:
        """Run ``fn(snapshot, now)`` every ``interval_seconds`` (see :mod:`.reconcilers`)."""
        if self.watch is not None:
            raise ValueError(f"a watch-only monitor runs no reconcilers ({name})")
        return self.reconcilers.add(name, interval_seconds, fn)

    def add_condition_source(self, source: ConditionSource) -> None:
        """Extra conditions evaluated with the health rules (e.g. a schedule's grace)."""
        self.condition_sources.append(source)

    def generator_url(self, alert: Alert) -> str:
        base = self.options.nomad_address.rstrip("/")
        job, namespace = alert.labels.get("job"), alert.labels.get("namespace")
        return f"{base}/ui/jobs/{job}@{namespace}" if base and job and namespace else base

    # ------------------------------------------------------------------ settings

    def settings_for(self, model: ModelView) -> AlertsSection:
        """A model's ``alerts:`` section from its job meta (defaults when absent/invalid)."""
        cache_key = (model.key, model.modify_index)
        cached = self._settings_cache.get(cache_key)
        if cached is not None:
            return cached
        raw = dict(model.alert_settings)
        try:
            section = AlertsSection.model_validate(raw) if raw else AlertsSection()
        except ValueError as error:
            self.events.append(
                "monitor",
                model=model.name,
                namespace=model.namespace,
                message=f"invalid mlctl.alerts meta, using defaults: {error}".splitlines()[0],
            )
            section = AlertsSection()
        self._settings_cache[cache_key] = section
        return section

    def rules_for(self, model: ModelView) -> Rules:
        raw = model.alert_settings.get("rules")
        return merged_rules(self.config.defaults, raw if isinstance(raw, dict) else None)

    def actions_for(self, model: ModelView) -> Actions:
        return self.settings_for(model).actions

    def _labels_for(self, model: ModelView) -> dict[str, str]:
        return {**self.config.labels, **self.settings_for(model).labels}

    # ------------------------------------------------------------------ receivers

    def _integrations(self, secrets: Secrets) -> dict[str, list[Integration]]:
        out: dict[str, list[Integration]] = {DEFAULT_RECEIVER: []}
        for receiver in self.config.receivers:
            items: list[Integration] = []
            for n, hook in enumerate(receiver.webhook):
                items.append(
                    Webhook(
                        f"{receiver.name}:webhook:{n}",
                        hook,
                        secrets,
                        self._session,
                        self.options.external_url,
                        self.generator_url,
                    )
                )
            for n, slack in enumerate(receiver.slack):
                items.append(Slack(f"{receiver.name}:slack:{n}", slack, secrets, self._session))
            for n, mail in enumerate(receiver.email):
                items.append(
                    Email(f"{receiver.name}:email:{n}", mail, secrets, self.options.external_url)
                )
            out[receiver.name] = items
        return out

    def _read_secret_var(self, path: str, item: str) -> str | None:
        items, _ = self.variables.read(path)
        return (items or {}).get(item)

    # ------------------------------------------------------------------ state

    def _changed(self) -> None:
        with self._lock:
            self._dirty = True

    def load_state(self) -> bool:
        """Restore alerts, routing and undelivered notifications of a previous run."""
        try:
            data = self.state.load()
        except PermissionDenied as error:
            fallback = self.options.state_fallback
            if fallback is None or isinstance(self.state, FileState):
                self.events.append("monitor", message=f"cannot read saved state: {error}")
                return False
            self.events.append(
                "monitor",
                message=f"no access to Nomad Variables mlctl/monitor/* ({error.one_line()}): "
                f"keeping state in {fallback} and not publishing alerts or events",
            )
            self.state = FileState(fallback)
            self.options = dataclasses.replace(self.options, publish=False)
            return self.load_state()
        except (MlctlError, ValueError) as error:
            self.events.append("monitor", message=f"cannot read saved state yet: {error}")
            return False
        if data:
            self.book.load(data.get("alerts") or [])
            self.router.load(data.get("routing") or [])
            count = self.outbox.load(data.get("outbox") or [])
            self._am_told = dict(data.get("alertmanager") or {})
            self._am_silenced = dict(data.get("alertmanager_silences") or {})
            self.events.append(
                "monitor",
                message=f"restored {len(self.book.alerts())} alerts and {count} undelivered "
                "notifications from the saved state",
            )
        self._state_loaded = True
        self.store.set_alerts(self.book.alerts())
        return True

    def save_state(self) -> None:
        if not self.acting():
            return  # watch-only or standby: the acting monitor's state is not ours to write
        data = {
            "version": 1,
            "alerts": self.book.dump(),
            "routing": self.router.dump(),
            "outbox": self.outbox.dump(),
            "alertmanager": self._am_told,
            "alertmanager_silences": self._am_silenced,
        }
        try:
            for dropped in self.state.save(data):
                self.events.append("monitor", message=f"state trimmed to fit: {dropped}")
            with self._lock:
                self._dirty = False
        except (MlctlError, ValueError) as error:
            self.events.append("monitor", message=f"cannot save state: {error}")

    # ------------------------------------------------------------------ one pass

    def _disconnected(self, snapshot: Snapshot, now: datetime) -> list[Condition]:
        since = snapshot.disconnected_since
        if snapshot.connected or since is None:
            return []
        return [
            Condition(
                "MonitorDisconnected",
                {"model": "", "namespace": "", "job": ""},
                "the mlctl monitor cannot follow Nomad",
                f"no contact with Nomad since {since.isoformat()}: {snapshot.last_error}",
                DISCONNECTED_AFTER,
                "critical",
            )
        ]

    def _read_notes(self, _snapshot: Snapshot, _now: datetime) -> None:
        """Reconciler: the operators' notes now in Nomad (kept as they were on failure)."""
        try:
            notes = read_notes(self.client())
        except MlctlError as error:
            self._notes_problems.problem(error.one_line())
            return
        self._notes_problems.cleared()
        self.silences = Silences.of(notes)

    def _judges_reachability(self) -> bool:
        return self.watch is None or self.watch.judge_reachability

    def conditions(self, snapshot: Snapshot, now: datetime) -> list[Condition]:
        extra = [c for source in self.condition_sources for c in source(snapshot, now)]
        if not snapshot.connected:
            return self._last_conditions + extra  # frozen: stale data decides nothing
        ctx = Context(snapshot, now, self.rules_for, self._labels_for)
        found = evaluate(ctx)
        if not self._judges_reachability():
            found = [c for c in found if c.alertname != REACHABILITY_ALERT]
        self._last_conditions = found
        return self._last_conditions + extra

    def evaluate(self, now: datetime) -> list[Transition]:
        snapshot = self.store.snapshot()
        transitions = self.book.update(self.conditions(snapshot, now), now)
        for transition in transitions:
            alert = transition.alert
            self.events.append(
                "alert",
                status=transition.kind,
                alertname=alert.name,
                model=alert.labels.get("model", ""),
                namespace=alert.labels.get("namespace", ""),
                severity=alert.labels.get("severity", ""),
                summary=alert.annotations.get("summary", ""),
                description=alert.annotations.get("description", ""),
                labels=dict(alert.labels),
                fingerprint=alert.fingerprint,
            )
        self.store.set_alerts(self.book.alerts())
        return transitions

    def _submit(self, notifications: list[Notification]) -> int:
        count = 0
        for note in notifications:
            summary = f"{note.status} {note.group_key} ({len(note.alerts)} alerts)"
            for integration in self.receivers.get(note.receiver, []):
                self.outbox.submit(integration.id, integration.render(note), summary, hold=True)
                count += 1
        return count

    def _silence_alertmanager(self, alerts: list[Alert], now: datetime) -> int:
        """Tell Alertmanager about silences that began, changed or were lifted early.

        Queued before the alerts themselves on the same integration, so Alertmanager
        has the silence before it could notify the alert."""
        if not self.alertmanagers:
            return 0
        told = 0
        wanted: dict[str, str] = {}
        for alert in alerts:
            note = self.silences.note_for(alert)
            fp = alert.fingerprint
            if note is not None and note.silenced_until is not None and note.silenced(now):
                wanted[fp] = note.silenced_until.isoformat()
            if self._am_silenced.get(fp) == wanted.get(fp):
                continue
            name = alert.labels.get("alertname", "")
            for push in self.alertmanagers:
                if fp in self._am_silenced:  # changed or lifted early: expire the old one
                    self.outbox.submit(push.id, push.render_unsilence(alert),
                                       f"lift the silence of {name}", hold=True)  # fmt: skip
                if note is not None and note.silenced_until is not None and fp in wanted:
                    body = push.render_silence(
                        alert, now, note.silenced_until, note.silenced_by, note.comment
                    )
                    self.outbox.submit(push.id, body, f"silence {name}", hold=True)
            told += 1
        self._am_silenced = wanted
        return told

    def _push_alertmanager(self, alerts: list[Alert], now: datetime) -> int:
        if not self.alertmanagers:
            return 0
        news = [a for a in alerts if self._am_told.get(a.fingerprint) != a.status]
        resend = self._am_sent_at is None or now - self._am_sent_at >= timedelta(
            seconds=self.config.intervals.alertmanager_resend
        )
        firing = [a for a in alerts if a.ends_at is None]
        if not news and not (resend and firing):
            return 0
        batch = {a.fingerprint: a for a in [*firing, *news]}
        for push in self.alertmanagers:
            body = push.render_alerts(list(batch.values()))
            self.outbox.submit(push.id, body, f"{len(batch)} alerts", hold=True)
        for alert in batch.values():
            self._am_told[alert.fingerprint] = alert.status
        live = {a.fingerprint for a in alerts}
        self._am_told = {fp: s for fp, s in self._am_told.items() if fp in live}
        self._am_sent_at = now
        return len(self.alertmanagers)

    def tick(self) -> bool:
        """One pass; returns False when it had to wait (state or Store not ready)."""
        if self.leadership is not None:
            self.leadership.step()  # renews/acquires only when due
        if self.watch is None and not self.acting():
            self.store.publish()  # standby: the Store follows the cluster, nothing else
            return True
        if not self._state_loaded and not self.load_state():
            return False
        snapshot = self.store.snapshot()
        if not snapshot.synced:
            return False
        now = self.clock()
        transitions = self.evaluate(now)
        if self.watch is not None:
            self.store.publish()
            return True  # watch-only: nothing is routed, saved, done or published
        alerts = self.book.alerts()
        submitted = self._submit(self.router.process(self.silences.unsilenced(alerts, now), now))
        submitted += self._silence_alertmanager(alerts, now)
        submitted += self._push_alertmanager(alerts, now)
        with self._lock:
            dirty = self._dirty
        if not self.acting():  # the lease ran out during this pass: stop here
            return True
        if transitions or submitted or dirty:
            self.save_state()
        self.outbox.release()
        if self._due("actions", now, self.config.intervals.actions):
            self.act(now)
        if self.options.publish and self._due("publish", now, self.config.intervals.publish):
            self.publish()
        self.store.publish()
        return True

    def _due(self, what: str, now: datetime, interval: float) -> bool:
        if now >= self._next.get(what, now):
            self._next[what] = now + timedelta(seconds=interval)
            return True
        return False

    def act(self, now: datetime) -> None:
        snapshot = self.store.snapshot()
        if not snapshot.connected or not self.acting():
            return
        try:
            planned = self.planner.plan(
                snapshot.models.values(),
                self.book.firing(),
                now,
                self.actions_for,
                self.executor.history,
            )
        except MlctlError as error:
            self.events.append("monitor", message=f"cannot plan actions: {error.one_line()}")
            return
        for action in planned:
            model = snapshot.models.get(action.key)
            if model is None or not self.acting():
                continue
            result = self.executor.run(action, self.actions_for(model))
            if action.kind == "scale" and result.startswith("done"):
                self.planner.reset(action.key)

    def publish(self) -> None:
        """Write alerts and recent events where ``mlctl alerts``/``events`` read them."""
        if not self.acting():
            return
        moment = self.clock()
        now = moment.isoformat()
        alerts = alerts_item([self.silences.annotate(a, moment) for a in self.book.alerts()])
        events = events_item(list(self._recent))
        for path, item, value in ((ALERTS_PATH, "alerts", alerts), (EVENTS_PATH, "events", events)):
            if self._published.get(path) == value:
                continue
            try:
                self.variables.write(path, {item: value, "updated": now}, cas=None)
                self._published[path] = value
            except MlctlError as error:
                self.events.append("monitor", message=f"cannot publish {path}: {error}")

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Start every thread; returns at once."""
        stop = self._stop
        if self.leadership is not None:
            self.leadership.step()  # know the role before the first pass
            self._spawn("monitor-leadership", self.leadership.run, stop)
        self._spawn("monitor-follower", self.follower.run, stop)
        self._spawn("monitor-loop", self._loop, stop)
        self._spawn("monitor-prober", self._probe_loop, stop)
        self.outbox.start(stop)
        self.reconcilers.start(stop)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.last_pass = time.monotonic()
            try:
                self.tick()
            except Exception as error:  # a bug must not stop the monitor: log, go on
                self.events.append(
                    "monitor", message=f"loop error: {type(error).__name__}: {error}"
                )
            stop.wait(self.config.intervals.rules)

    def _probe_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            snapshot = self.store.snapshot()
            if snapshot.synced:
                try:
                    self.prober.probe_all(snapshot)
                except Exception as error:
                    self.events.append("monitor", message=f"probe error: {reader.describe(error)}")
            stop.wait(self.config.intervals.probe)

    def stop(self, timeout: float = 10.0, release: bool = True) -> None:
        """Stop every thread, then (leader) save state and publish one last time and
        release the leader lock. ``release=False`` leaves the lock to lapse, as a
        killed monitor would (tests)."""
        self._stop.set()
        self.follower.close()
        for thread in self._threads:
            thread.join(timeout=timeout)
        if not release:
            return
        if self._state_loaded and self.acting():
            self.save_state()
            if self.options.publish:
                self.publish()
        if self.leadership is not None:
            self.leadership.release()

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    def status(self) -> dict[str, Any]:
        """A short JSON-able summary for the health endpoint and ``-o json``."""
        snap = self.store.snapshot()
        return {
            "connected": snap.connected,
            "mode": snap.mode,
            "synced": snap.synced,
            "index": snap.index,
            "models": len(snap.models),
            "nodes": len(snap.nodes),
            "firing": len(snap.firing),
            "undelivered": len(self.outbox.pending()),
            "disconnected_since": snap.disconnected_since.isoformat()
            if snap.disconnected_since
            else None,
            **(self.leadership.status() if self.leadership else {"role": "watch"}),
        }
