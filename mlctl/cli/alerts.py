"""``mlctl alerts`` and ``mlctl events``: what the running monitor saw and did."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from mlctl.cli.main import state
from mlctl.output import emit, note

ALERT_COLUMNS = {
    "status": "STATUS",
    "severity": "SEVERITY",
    "alertname": "ALERT",
    "model": "MODEL",
    "namespace": "NAMESPACE",
    "since": "SINCE",
    "note": "NOTE",
    "summary": "SUMMARY",
}
MONITOR_NS = click.option(
    "--monitor-namespace",
    default="default",
    show_default=True,
    metavar="NS",
    help="Namespace of the monitor's state (its config's state_namespace).",
)


def _utc(stamp: str | None) -> str:
    """``2025-03-03 09:00:01Z`` from an ISO time (alerts' times are UTC)."""
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except ValueError:
        return stamp


def _row(alert: dict[str, Any]) -> dict[str, Any]:
    labels = alert.get("labels") or {}
    since = _utc(alert.get("startsAt"))
    if alert.get("endsAt"):
        since = f"{since} → {_utc(alert['endsAt'])}"
    return {
        "status": alert.get("status"),
        "severity": labels.get("severity"),
        "alertname": labels.get("alertname"),
        "model": labels.get("model") or labels.get("node"),
        "namespace": labels.get("namespace"),
        "since": since,
        "note": _note(alert),
        "summary": (alert.get("annotations") or {}).get("summary"),
    }


def _note(alert: dict[str, Any]) -> str:
    """``silenced by ana until 2025-03-03 12:00:00Z; acked by bo`` (mlctl tui's notes)."""
    said = []
    silenced = alert.get("silenced") or {}
    if silenced:
        said.append(f"silenced by {silenced.get('by') or '?'} until {_utc(silenced.get('until'))}")
    acknowledged = alert.get("acknowledged") or {}
    if acknowledged:
        said.append(f"acked by {acknowledged.get('by') or '?'}")
    return "; ".join(said)


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Also show recently resolved alerts.")
@click.option("--model", metavar="NAME", help="Only this model's alerts.")
@MONITOR_NS
@click.pass_context
def alerts(ctx: click.Context, show_all: bool, model: str | None, monitor_namespace: str) -> None:
    """List the monitor's alerts: firing ones (and with --all the recently resolved).

    Each alert has Alertmanager's fields: labels, annotations, startsAt, endsAt, status
    and a fingerprint (-o json shows them all). They are read from what the running
    monitor publishes to Nomad (Variable mlctl/monitor/alerts), so this works from any
    machine that can reach the cluster. An alert silenced or acknowledged in mlctl tui
    says so in NOTE (JSON: "silenced": {by, until}, "acknowledged": {by, at}); a
    silenced alert keeps firing but is not notified until its silence ends.

    \b
    Examples:
      mlctl alerts
      mlctl alerts --all --model iris
      mlctl -o json alerts | jq '.[] | {fingerprint, status, labels}'
    """
    from mlctl.monitor import published
    from mlctl.session import nomad_client

    settings = state(ctx).settings()
    page = published.alerts(nomad_client(settings), monitor_namespace)
    found = [
        a
        for a in page.records
        if (show_all or a.get("status") == "firing")
        and (model is None or (a.get("labels") or {}).get("model") == model)
    ]
    if settings.output == "json":
        emit(found, "json")
        return
    note(f"published by the monitor {published.age(page.updated)}")
    emit([_row(a) for a in found], settings.output, columns=ALERT_COLUMNS,
         empty="no alerts" if show_all else "no firing alerts")  # fmt: skip


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    from mlctl.bundle.alerts import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    return datetime.fromtimestamp(datetime.now(UTC).timestamp() - seconds, tz=UTC)


@click.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events (Ctrl-C ends).")
@click.option("--model", metavar="NAME", help="Only events about this model.")
@click.option("--grep", metavar="REGEX", help="Only events whose JSON matches REGEX.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="KIND",
    help="alert, notification, action, probe, schedule, audit, monitor (repeatable).",
)
@click.option("--since", metavar="DURATION", help="Only events of the last DURATION (10m, 2h).")
@click.option("--event-log", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Read this event log file instead of what the monitor publishes.")  # fmt: skip
@MONITOR_NS
@click.pass_context
def events(
    ctx: click.Context,
    follow: bool,
    model: str | None,
    grep: str | None,
    kinds: tuple[str, ...],
    since: str | None,
    event_log: Path | None,
    monitor_namespace: str,
) -> None:
    """Show the monitor's event log: alerts, notifications, actions, schedule changes,
    operators' audit trail.

    Reads the event log file when you give one (or the default one exists on this
    machine), else the recent events the running monitor publishes to Nomad (Variable
    mlctl/monitor/events), so it works from any machine that can reach the cluster.

    \b
    Examples:
      mlctl events --model iris --since 1h
      mlctl events --grep 'OOM|crash' --kind alert
      mlctl events --follow
      mlctl -o json events --event-log /var/log/mlctl/events.jsonl | jq .
    """
    from mlctl.errors import InvalidInput
    from mlctl.monitor import eventlog, livelog, published

    settings = state(ctx).settings()
    try:
        keep = eventlog.Filter(model=model, grep=grep, kinds=kinds, since=_since(since))
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    path = published.local_log(event_log, eventlog.default_path(settings.state_dir))

    def show(record: dict[str, Any]) -> None:
        if settings.output == "json":
            import json

            click.echo(json.dumps(record, separators=(",", ":"), default=str))
        else:
            click.echo(livelog.line(record))

    stop = threading.Event()
    try:
        if path is not None:
            for record in eventlog.read(path, keep):
                show(record)
            if follow:
                for record in eventlog.follow(path, keep, stop.is_set):
                    show(record)
            return
        from mlctl.session import nomad_client

        client = nomad_client(settings)
        page = published.events(client, monitor_namespace)
        note(f"recent events published by the monitor {published.age(page.updated)}")
        for record in page.records:
            if keep(record):
                show(record)
        if follow:
            for record in published.follow_published(client, monitor_namespace, keep, stop):
                show(record)
    except KeyboardInterrupt:
        return  # Ctrl-C is how --follow ends
