"""Alert routing and grouping with Alertmanager's semantics (pure state machine).

- The route tree is walked depth-first: the first matching child wins unless it says
  ``continue``; when no child matches, the route itself takes the alert.
- Alerts are grouped per route by the values of ``group_by`` labels. A new group waits
  ``group_wait`` before its first notification (to gather its alerts); later changes
  go out at most every ``group_interval``; while alerts keep firing the group is
  re-sent every ``repeat_interval``.
- What counts as news for a group: an alert never told before; a firing alert last
  told as resolved — unless it was told firing less than ``repeat_interval`` ago, so a
  flapping alert is not re-sent more often than its repeat interval; a resolved alert
  last told firing (or never told), when the receiver wants ``send_resolved``.
- Routing state (what each group told, and when) round-trips through
  :meth:`Router.dump`/:meth:`Router.load`, so a restarted monitor neither repeats nor
  misses notifications.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mlctl.monitor.config import DEFAULT_RECEIVER, RouteConfig
from mlctl.monitor.views import Alert

DEFAULT_GROUP_BY = ("alertname", "model", "namespace")
DEFAULT_GROUP_WAIT = 10.0
DEFAULT_GROUP_INTERVAL = 60.0
DEFAULT_REPEAT_INTERVAL = 3600.0


@dataclass(frozen=True)
class Route:
    receiver: str
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    match: tuple[tuple[str, str], ...] = ()
    match_re: tuple[tuple[str, re.Pattern[str]], ...] = ()
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    path: str = "{}"

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match):
            return False
        return all(p.fullmatch(labels.get(k, "")) for k, p in self.match_re)


def build_route(config: RouteConfig, parent: Route | None = None, path: str = "{}") -> Route:
    """The route tree of a config, children inheriting what they do not set."""
    matchers = [f'{k}="{v}"' for k, v in sorted(config.match.items())]
    matchers += [f'{k}=~"{v}"' for k, v in sorted(config.match_re.items())]
    here = path if parent is None else f"{path}/{{{', '.join(matchers)}}}"
    route = Route(
        receiver=config.receiver or (parent.receiver if parent else DEFAULT_RECEIVER),
        group_by=tuple(config.group_by)
        if config.group_by is not None
        else (parent.group_by if parent else DEFAULT_GROUP_BY),
        group_wait=_pick(
            config.group_wait, parent.group_wait if parent else None, DEFAULT_GROUP_WAIT
        ),
        group_interval=_pick(
            config.group_interval,
            parent.group_interval if parent else None,
            DEFAULT_GROUP_INTERVAL,
        ),
        repeat_interval=_pick(
            config.repeat_interval,
            parent.repeat_interval if parent else None,
            DEFAULT_REPEAT_INTERVAL,
        ),
        match=tuple(sorted(config.match.items())),
        match_re=tuple((k, re.compile(v)) for k, v in sorted(config.match_re.items())),
        continue_=config.continue_,
        path=here,
    )
    children = tuple(build_route(child, route, here) for child in config.routes)
    return dataclasses.replace(route, routes=children)


def _pick(value: float | None, inherited: float | None, default: float) -> float:
    if value is not None:
        return value
    return inherited if inherited is not None else default


def routes_for(route: Route, labels: Mapping[str, str]) -> list[Route]:
    """The routes that take an alert with ``labels`` (Alertmanager's ``Match``)."""
    if not route.matches(labels):
        return []
    taken: list[Route] = []
    for child in route.routes:
        found = routes_for(child, labels)
        if found:
            taken.extend(found)
            if not child.continue_:
                break
    return taken or [route]


@dataclass(frozen=True)
class Notification:
    """One message for one receiver: a group's alerts, firing and/or resolved."""

    id: str
    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    status: str
    alerts: tuple[Alert, ...]
    created: datetime


@dataclass
class _Told:
    status: str
    at: datetime
    fired_at: datetime | None  # when it was last told firing


@dataclass
class _Group:
    key: str
    route: Route
    labels: dict[str, str]
    created: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)
    last_notify: datetime | None = None
    told: dict[str, _Told] = field(default_factory=dict)


def group_key(route: Route, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    names = sorted(labels) if "..." in route.group_by else sorted(route.group_by)
    group_labels = {n: labels[n] for n in names if n in labels}
    pairs = ", ".join(f'{k}="{v}"' for k, v in group_labels.items())
    return f"{route.path}:{{{pairs}}}", group_labels


class Router:
    """Turns the current alerts into due notifications; see the module docstring."""

    def __init__(self, root: Route, send_resolved: Mapping[str, bool] | None = None) -> None:
        self.root = root
        self.send_resolved = dict(send_resolved or {})
        self._groups: dict[tuple[str, str], _Group] = {}

    def process(self, alerts: Iterable[Alert], now: datetime) -> list[Notification]:
        """Route ``alerts`` (the book's firing and retained resolved ones) and return the
        notifications due at ``now``."""
        current = {a.fingerprint: a for a in alerts}
        for alert in current.values():
            for route in routes_for(self.root, alert.labels):
                self._route(route, alert, now)
        out: list[Notification] = []
        for group_id, group in list(self._groups.items()):
            for fp in [fp for fp in group.alerts if fp not in current]:
                del group.alerts[fp]  # expired from the book
            notification = self._due(group, now)
            if notification is not None:
                out.append(notification)
            repeat = timedelta(seconds=group.route.repeat_interval)
            for fp in [fp for fp, t in group.told.items() if fp not in current]:
                if now - group.told[fp].at >= repeat:
                    del group.told[fp]  # long gone: a flap can no longer follow
            if not group.alerts and not group.told:
                del self._groups[group_id]
        return out

    def _route(self, route: Route, alert: Alert, now: datetime) -> None:
        key, labels = group_key(route, alert.labels)
        group = self._groups.get((route.receiver, key))
        told = group.told.get(alert.fingerprint) if group else None
        if alert.ends_at is not None and not self._resolved_is_news(told, route):
            if told is not None and told.status == "firing":
                told.status = "resolved"  # the receiver does not want to hear it
            return
        if group is None:
            group = _Group(key, route, labels, created=now)
            self._groups[(route.receiver, key)] = group
        group.alerts[alert.fingerprint] = alert

    def _resolved_is_news(self, told: _Told | None, route: Route) -> bool:
        wanted = self.send_resolved.get(route.receiver, True)
        return wanted and (told is None or told.status == "firing")

    def _is_news(self, group: _Group, alert: Alert, now: datetime) -> bool:
        told = group.told.get(alert.fingerprint)
        if alert.ends_at is not None:
            return self._resolved_is_news(told, group.route)
        if told is None:
            return True
        if told.status == "firing":
            return False
        repeat = timedelta(seconds=group.route.repeat_interval)
        return told.fired_at is None or now - told.fired_at >= repeat

    def _due(self, group: _Group, now: datetime) -> Notification | None:
        route = group.route
        news = any(self._is_news(group, a, now) for a in group.alerts.values())
        firing = [a for a in group.alerts.values() if a.ends_at is None]
        if group.last_notify is None:
            due = news and now - group.created >= timedelta(seconds=route.group_wait)
        else:
            since = now - group.last_notify
            due = (news and since >= timedelta(seconds=route.group_interval)) or (
                bool(firing) and since >= timedelta(seconds=route.repeat_interval)
            )
        if not due:
            return None
        told = group.told
        resolved = [
            a
            for a in group.alerts.values()
            if a.ends_at is not None and self._resolved_is_news(told.get(a.fingerprint), route)
        ]
        sent = sorted(firing, key=_order) + sorted(resolved, key=_order)
        for alert in firing:
            group.told[alert.fingerprint] = _Told("firing", now, now)
        for alert in [a for a in group.alerts.values() if a.ends_at is not None]:
            previous = group.told.get(alert.fingerprint)
            fired_at = previous.fired_at if previous else None
            group.told[alert.fingerprint] = _Told("resolved", now, fired_at)
            del group.alerts[alert.fingerprint]
        group.last_notify = now
        if not sent:
            return None
        status = "firing" if firing else "resolved"
        digest = hashlib.sha256(f"{route.receiver}|{group.key}|{now.isoformat()}".encode())
        return Notification(
            id=digest.hexdigest()[:16],
            receiver=route.receiver,
            group_key=group.key,
            group_labels=dict(group.labels),
            status=status,
            alerts=tuple(sent),
            created=now,
        )

    # ------------------------------------------------------------------ persistence

    def dump(self) -> list[dict[str, Any]]:
        return [
            {
                "receiver": receiver,
                "key": key,
                "labels": group.labels,
                "created": group.created.isoformat(),
                "lastNotify": group.last_notify.isoformat() if group.last_notify else None,
                "told": {
                    fp: [t.status, t.at.isoformat(), t.fired_at.isoformat() if t.fired_at else None]
                    for fp, t in group.told.items()
                },
            }
            for (receiver, key), group in self._groups.items()
        ]

    def load(self, data: Iterable[Mapping[str, Any]]) -> None:
        """Restore what every group told; routes come from the (current) config."""
        self._groups.clear()
        routes = {r.path: r for r in _all_routes(self.root)}
        for item in data:
            path = str(item["key"]).rsplit(":{", 1)[0]
            route = routes.get(path)
            if route is None or route.receiver != item["receiver"]:
                continue  # the config changed: that group no longer exists
            group = _Group(
                key=str(item["key"]),
                route=route,
                labels=dict(item["labels"]),
                created=datetime.fromisoformat(item["created"]),
                last_notify=_time(item.get("lastNotify")),
                told={
                    fp: _Told(t[0], datetime.fromisoformat(t[1]), _time(t[2]))
                    for fp, t in dict(item["told"]).items()
                },
            )
            self._groups[(route.receiver, group.key)] = group

    def told(self, receiver: str, fp: str) -> str | None:
        """What ``receiver`` was last told about an alert (tests and diagnostics)."""
        for (name, _key), group in self._groups.items():
            if name == receiver and fp in group.told:
                return group.told[fp].status
        return None


def _order(alert: Alert) -> tuple[datetime, str]:
    return (alert.starts_at, alert.fingerprint)


def _all_routes(route: Route) -> list[Route]:
    return [route, *(r for child in route.routes for r in _all_routes(child))]


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
