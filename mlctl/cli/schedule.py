"""``mlctl schedule``: start/stop windows of models, stored in Nomad Variables.

The commands parse flags and print; the work is in :mod:`mlctl.schedule` (imported
inside each command so ``mlctl --help`` stays fast).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlctl.cli.main import state
from mlctl.output import emit, emit_json, note

if TYPE_CHECKING:
    from mlctl.nomad.client import NomadClient
    from mlctl.settings import Settings

LIST_COLUMNS = {
    "model": "MODEL",
    "namespace": "NAMESPACE",
    "windows": "WINDOWS",
    "state": "NOW",
    "next_start_text": "NEXT START",
    "next_stop_text": "NEXT STOP",
}
WINDOW_COLUMNS = {
    "window": "#",
    "label": "WINDOW",
    "kind": "KIND",
    "replicas": "REPLICAS",
    "open_now": "OPEN NOW",
}
NEXT_COLUMNS = {"local": "WHEN (SCHEDULE ZONE)", "at": "UTC", "replicas": "REPLICAS"}


def _at_option(func: Any) -> Any:
    return click.option(
        "--at",
        "at",
        metavar="ISO",
        help="Evaluate at this instant instead of now (ISO 8601 with offset).",
    )(func)


def _setup(ctx: click.Context, *, every_namespace: bool = False) -> tuple[Settings, NomadClient]:
    """Settings and client; ``-n '*'`` (every namespace) only for ``schedule list``."""
    from mlctl.errors import InvalidInput
    from mlctl.session import nomad_client

    settings: Settings = state(ctx).settings()
    if settings.nomad_namespace == "*" and not every_namespace:
        raise InvalidInput(
            f"{ctx.command_path}: namespace '*' works only with mlctl schedule list",
            hint="name the model's namespace with -n NS",
        )
    return settings, nomad_client(settings)


def _now(at: str | None) -> datetime:
    from mlctl.schedule.fields import parse_instant
    from mlctl.schedule.problems import FieldError, ScheduleInvalid

    if at is None:
        return datetime.now(UTC)
    try:
        return parse_instant(at, "--at")
    except FieldError as error:
        raise ScheduleInvalid(f"--at: {error.message}") from None


def _who(settings: Settings) -> str:
    from mlctl.deploy.pipeline import deployed_by

    return deployed_by(settings)


def _check_model(model: str) -> None:
    from mlctl.deploy.lifecycle import job_id

    job_id(model)  # refuses a name that is not a model name, before any request


@click.group()
def schedule() -> None:
    """Start and stop models on a timetable: windows in a time zone, cron pairs, one-offs.

    A model runs its window's replicas inside its windows and idle_replicas (default 0)
    outside them; a down window (maintenance) wins over all others. The monitor
    (mlctl monitor run) applies the schedule. Edges in a DST gap take effect when the
    clocks jump; edges in a repeated hour take effect at its first occurrence.

    \b
    Examples:
      mlctl schedule add iris --window "Mon-Fri 09:00-18:00 Europe/Berlin" --replicas 2
      mlctl schedule add iris --start "0 9 * * 1-5" --stop "0 18 * * 1-5" --tz Europe/Berlin
      mlctl schedule add iris --from 2025-12-24T00:00:00+01:00 --until 2025-12-27T00:00:00+01:00
      mlctl schedule list
      mlctl schedule next iris -n 5
      mlctl schedule rm iris --window 2
    """


@schedule.command("add")
@click.argument("model")
@click.option("--window", "window", metavar="TEXT", help='Weekly: "DAYS HH:MM-HH:MM ZONE".')
@click.option("--start", metavar="CRON", help="Cron pair: opens at these fires.")
@click.option("--stop", metavar="CRON", help="Cron pair: closes at these fires.")
@click.option("--tz", metavar="ZONE", help="Cron pair: IANA time zone, e.g. Europe/Berlin.")
@click.option("--from", "from_", metavar="ISO", help="One-off: opens (ISO 8601 with offset).")
@click.option("--until", metavar="ISO", help="One-off: closes (ISO 8601 with offset).")
@click.option(
    "--replicas",
    type=click.IntRange(0, 1000),
    help="Replicas inside this window [default: the bundle's replicas].",
)
@click.option("--down", is_flag=True, help="A maintenance window: 0 replicas, wins over others.")
@click.option(
    "--idle-replicas",
    type=click.IntRange(0, 1000),
    help="Replicas outside every window, for the whole schedule [default: 0].",
)
@click.pass_context
def add(
    ctx: click.Context,
    model: str,
    window: str | None,
    start: str | None,
    stop: str | None,
    tz: str | None,
    from_: str | None,
    until: str | None,
    replicas: int | None,
    down: bool,
    idle_replicas: int | None,
) -> None:
    """Add a window to MODEL's schedule (creating the schedule if needed).

    Days are Mon Tue Wed Thu Fri Sat Sun, as ranges (Mon-Fri, Fri-Mon) or lists
    (Sat,Sun). An end at or before the start crosses midnight (Fri 22:00-02:00 ends
    Saturday 02:00); 24:00 is the end of the day. Cron expressions have five fields.

    \b
    Examples:
      mlctl schedule add iris --window "Mon-Fri 09:00-18:00 Europe/Berlin"
      mlctl schedule add iris --window "Fri 22:00-02:00 UTC" --replicas 4
      mlctl schedule add iris --start "30 8 * * 1-5" --stop "0 19 * * 1-5" --tz America/New_York
      mlctl schedule add iris --from 2025-07-01T00:00:00Z --until 2025-07-02T00:00:00Z --down
    """
    from mlctl.schedule import service
    from mlctl.schedule.edit import window_spec

    _check_model(model)
    spec = window_spec(
        {
            "window": window,
            "start": start,
            "stop": stop,
            "tz": tz,
            "from": from_,
            "until": until,
            "replicas": replicas,
            "down": down or None,
        }
    )
    settings, client = _setup(ctx)
    now = datetime.now(UTC)
    doc = service.add_window(
        client, model, spec, by=_who(settings), now=now, idle_replicas=idle_replicas
    )
    _print_schedule(settings, client.namespace, model, doc, now)
    note(f"{model}: added window {spec.label!r}; the monitor applies it (mlctl monitor run)")


def _print_schedule(
    settings: Settings, namespace: str, model: str, doc: Any, now: datetime
) -> None:
    from mlctl.schedule.view import format_instant, list_row, state, window_rows

    if settings.output == "json":
        emit_json({**list_row(namespace, model, doc, now), "detail": window_rows(doc, now)})
        return
    current = state(doc, now)
    emit(window_rows(doc, now), "table", columns=WINDOW_COLUMNS)
    click.echo()
    click.echo(f"now:        {current.summary} (scheduled {current.scheduled})")
    for name, change in (("next start", current.next_start), ("next stop", current.next_stop)):
        click.echo(f"{name + ':':<12}{format_instant(change.at if change else None, current.zone)}")
    idle = doc.schedule().idle_replicas
    click.echo(f"default replicas {doc.replicas}, outside windows {idle}")


@schedule.command("list")
@click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace you may read.")
@_at_option
@click.pass_context
def list_(ctx: click.Context, all_namespaces: bool, at: str | None) -> None:
    """List scheduled models: windows, state now, next start and stop (zone and UTC).

    The state is "up N", "down", "paused", or "override N until …" after a manual
    mlctl scale (it holds until the schedule's next transition).

    \b
    Examples:
      mlctl schedule list
      mlctl schedule list --all-namespaces      # or: -n '*'
      mlctl schedule list -n team-a
      mlctl -o json schedule list | jq '.[] | select(.state == "down")'
    """
    from mlctl.schedule import store
    from mlctl.schedule.view import list_row

    settings, client = _setup(ctx, every_namespace=True)
    now = _now(at)
    all_namespaces = all_namespaces or settings.nomad_namespace == "*"
    entries = store.list_entries(client, "*" if all_namespaces else None)
    rows = [list_row(e.namespace, e.model, e.doc, now) for e in entries]
    if settings.output == "json":
        emit_json(rows)
        return
    for row in rows:
        for key in ("next_start", "next_stop"):
            value = row[key]
            row[f"{key}_text"] = value["local"] if isinstance(value, dict) else None
    where = "any namespace" if all_namespaces else f"namespace {client.namespace}"
    emit(rows, "table", columns=LIST_COLUMNS, empty=f"no schedules in {where}")


@schedule.command("show")
@click.argument("model")
@_at_option
@click.pass_context
def show(ctx: click.Context, model: str, at: str | None) -> None:
    """Show MODEL's windows (numbered for rm --window), its state and next transitions.

    \b
    Examples:
      mlctl schedule show iris
      mlctl schedule show iris --at 2025-03-30T08:00:00+02:00
      mlctl -o json schedule show iris
    """
    from mlctl.schedule import store

    _check_model(model)
    settings, client = _setup(ctx)
    entry = store.read(client, model)
    if entry is None:
        raise _no_schedule(model, client.namespace)
    _print_schedule(settings, entry.namespace, model, entry.doc, _now(at))


def _no_schedule(model: str, namespace: str) -> Exception:
    from mlctl.errors import NotFound

    return NotFound(
        f"model {model} has no schedule in namespace {namespace}",
        hint=f"add one: mlctl schedule add {model} --window 'Mon-Fri 09:00-18:00 UTC'",
    )


@schedule.command("next")
@click.argument("model")
@_at_option
@click.option(
    "-n",
    "--count",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    help="How many transitions.",
)
@click.pass_context
def next_(ctx: click.Context, model: str, at: str | None, count: int) -> None:
    """The next transitions of MODEL's schedule, from now or from --at.

    Check a schedule before trusting it, across DST changes included. With -o json:
    a list of {"at": "<ISO 8601 UTC>", "replicas": N}.

    \b
    Examples:
      mlctl schedule next iris
      mlctl schedule next iris --at 2025-10-25T00:00:00Z -n 10
      mlctl -o json schedule next iris -n 3
    """
    from mlctl.schedule import store
    from mlctl.schedule.timeline import next_transitions
    from mlctl.schedule.view import format_instant, schedule_zone

    _check_model(model)
    settings, client = _setup(ctx)
    entry = store.read(client, model)
    if entry is None:
        raise _no_schedule(model, client.namespace)
    compiled = entry.doc.schedule()
    found = next_transitions(compiled, _now(at), count)
    if settings.output == "json":
        emit_json([t.to_dict() for t in found])
        return
    zone = schedule_zone(compiled)
    rows = [{**t.to_dict(), "local": format_instant(t.at, zone)} for t in found]
    emit(rows, "table", columns=NEXT_COLUMNS, empty=f"{model}: the schedule never changes again")


@schedule.command("rm")
@click.argument("model")
@click.option("--window", "which", metavar="K", help="Only window K (its number or text).")
@click.pass_context
def rm(ctx: click.Context, model: str, which: str | None) -> None:
    """Remove MODEL's schedule, or one window of it (--window K as schedule show numbers it).

    The model keeps the replica count it has; removing the last window removes the
    schedule.

    \b
    Examples:
      mlctl schedule rm iris --window 2
      mlctl schedule rm iris --window "Sat,Sun 10:00-16:00 UTC"
      mlctl schedule rm iris
    """
    from mlctl.schedule import service

    _check_model(model)
    settings, client = _setup(ctx)
    now = datetime.now(UTC)
    doc = service.remove(client, model, which, by=_who(settings), now=now)
    if settings.output == "json":
        emit_json(
            {
                "model": model,
                "removed": which or "schedule",
                "remaining": len(doc.windows) if doc else 0,
            }
        )
    elif doc is None:
        click.echo(f"{model}: schedule removed; the model keeps its current replica count")
    else:
        click.echo(f"{model}: window {which} removed; {len(doc.windows)} left")


def _pause(ctx: click.Context, model: str, paused: bool) -> None:
    from mlctl.schedule import service

    _check_model(model)
    settings, client = _setup(ctx)
    service.set_paused(client, model, paused, by=_who(settings), now=datetime.now(UTC))
    if settings.output == "json":
        emit_json({"model": model, "paused": paused})
    elif paused:
        click.echo(f"{model}: schedule paused; the monitor leaves its replica count alone")
    else:
        click.echo(f"{model}: schedule resumed; the monitor applies it at its next pass")


@schedule.command("pause")
@click.argument("model")
@click.pass_context
def pause(ctx: click.Context, model: str) -> None:
    """Stop applying MODEL's schedule (its windows are kept; resume brings it back).

    \b
    Examples:
      mlctl schedule pause iris
    """
    _pause(ctx, model, True)


@schedule.command("resume")
@click.argument("model")
@click.pass_context
def resume(ctx: click.Context, model: str) -> None:
    """Apply MODEL's schedule again after a pause (this also ends a manual override).

    \b
    Examples:
      mlctl schedule resume iris
    """
    _pause(ctx, model, False)


REPORT_COLUMNS = {
    "opened": "OPENED (UTC)",
    "closed": "CLOSED",
    "replicas": "REPLICAS",
    "healthy_after_s": "HEALTHY AFTER S",
    "stopped_after_s": "STOPPED AFTER S",
    "answered": "ANSWERED",
}


def _since(text: str | None, now: datetime) -> datetime:
    """``--since``: an ISO 8601 instant, or a duration back from now (``7d``, ``12h``, ``30m``)."""
    import re
    from datetime import timedelta

    from mlctl.schedule.problems import ScheduleInvalid

    if text is None:
        return now - timedelta(days=7)
    match = re.fullmatch(r"(\d{1,5})([dhm])", text.strip())
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
        return now - timedelta(**{unit: int(match.group(1))})
    try:
        return _now(text)
    except ScheduleInvalid:
        raise ScheduleInvalid(
            f"--since: {text!r} is neither an ISO 8601 instant nor a duration like 7d, 12h, 30m"
        ) from None


@schedule.command("report")
@click.argument("model")
@click.option("--since", metavar="WHEN", help="ISO 8601 instant or 7d / 12h / 30m ago [7d].")
@click.option(
    "--event-log",
    "event_log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The monitor's event log [MLCTL_STATE_DIR/monitor/events.jsonl when it exists].",
)
@click.option(
    "--monitor-namespace",
    default="default",
    show_default=True,
    metavar="NS",
    help="Where the monitor publishes its events, when no event log file is here.",
)
@click.pass_context
def report_(
    ctx: click.Context,
    model: str,
    since: str | None,
    event_log: Path | None,
    monitor_namespace: str,
) -> None:
    """Schedule compliance: did MODEL follow its schedule? (from the monitor's probes)

    For each period the schedule wanted the model up: how long after opening it became
    healthy, how long after closing it stopped answering, and the fraction of the period
    it answered its probes. The probe history is the monitor's event log: the file when
    there is one here, else the recent events the running monitor publishes to Nomad.
    "-" means the monitor had no probe data for it.

    \b
    Examples:
      mlctl schedule report iris
      mlctl schedule report iris --since 30d --event-log /var/lib/mlctl/monitor/events.jsonl
      mlctl -o json schedule report iris --since 2025-03-01T00:00:00Z
    """
    from mlctl.schedule import store
    from mlctl.schedule.report import report
    from mlctl.schedule.timeline import iso_utc

    _check_model(model)
    settings, client = _setup(ctx)
    entry = store.read(client, model)
    if entry is None:
        raise _no_schedule(model, client.namespace)
    now = datetime.now(UTC)
    start = _since(since, now)
    events, source = _probe_events(settings, client, model, entry.namespace, event_log,
                                   monitor_namespace)  # fmt: skip
    rows = report(entry.doc.schedule(), events, start, now)
    if settings.output == "json":
        emit_json({"model": model, "since": iso_utc(start), "until": iso_utc(now), "windows": rows})
        return
    note(f"probe history from {source}")
    if not events:
        note(f"note: no probe history for {model}; is the monitor running?")
    for row in rows:
        fraction = row["answered_fraction"]
        row["answered"] = f"{fraction:.1%}" if isinstance(fraction, float) else None
    emit(rows, "table", columns=REPORT_COLUMNS, empty=f"{model}: no window since {iso_utc(start)}")


def _probe_events(
    settings: Settings,
    client: NomadClient,
    model: str,
    namespace: str,
    event_log: Path | None,
    monitor_namespace: str,
) -> tuple[list[dict[str, Any]], str]:
    """The ``probe`` events of one model, and where they came from."""
    from mlctl.monitor import eventlog, published

    keep = eventlog.Filter(model=model, kinds=("probe",), namespace=namespace)
    path = published.local_log(event_log, eventlog.default_path(settings.state_dir))
    if path is not None:
        return list(eventlog.read(path, keep)), str(path)
    page = published.events(client, monitor_namespace)
    where = f"the monitor's published events ({published.age(page.updated)})"
    return [record for record in page.records if keep(record)], where
