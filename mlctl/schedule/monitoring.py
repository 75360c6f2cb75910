"""The schedule reconciler inside the monitor (``mlctl monitor run`` and ``monitor deploy``).

:func:`attach` registers it with :meth:`mlctl.monitor.engine.Monitor.add_reconciler`: it
runs every ``interval`` seconds of the monitor's clock and also at each window edge
(it asks the monitor to wake it at the next transition of any schedule), reads the jobs
from the monitor's Store snapshot, and scales through the monitor's Nomad client (which
always carries the monitor's current token). Models its schedule wants up that are not
healthy after the grace period become the monitor's ``ScheduledModelDown`` alert.

The monitor's own reconciler runner is used for the wake-ups rather than APScheduler's
date triggers: it follows the monitor's injected clock, so tests (and simulations) move
time without sleeping, and a missed wake-up is harmless because every pass is
level-triggered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from mlctl.render.model_job import job_id_for_name
from mlctl.schedule.plan import DEFAULT_GRACE, Unhealthy
from mlctl.schedule.reconciler import Reconciler
from mlctl.schedule.timeline import iso_utc

if TYPE_CHECKING:
    from mlctl.monitor.engine import Monitor
    from mlctl.monitor.rules import Condition
    from mlctl.monitor.store import Snapshot

NAME = "schedules"
ALERT = "ScheduledModelDown"
DEFAULT_INTERVAL = 30.0


def condition(item: Unhealthy) -> Condition:
    """The monitor's condition for a model its schedule wants up that is not healthy."""
    from mlctl.monitor.rules import Condition

    return Condition(
        alertname=ALERT,
        labels={
            "model": item.model,
            "namespace": item.namespace,
            "job": job_id_for_name(item.model),
        },
        summary=(
            f"{item.model} should run {item.wanted} replicas by its schedule; "
            f"{item.healthy} healthy"
        ),
        description=(
            f"the schedule of {item.model} in {item.namespace} has wanted {item.wanted} "
            f"replicas since {iso_utc(item.since)}, but only {item.healthy} are healthy "
            "after the grace period (mlctl schedule show, mlctl status show why)"
        ),
        severity="critical",
    )


def attach(
    monitor: Monitor, *, interval: float = DEFAULT_INTERVAL, grace: timedelta = DEFAULT_GRACE
) -> Reconciler:
    """Run the schedules inside ``monitor`` (call before or after ``monitor.start()``)."""
    reconciler = Reconciler(monitor.client, event_log=monitor.events.append, grace=grace)
    requested: list[datetime | None] = [None]

    def run(snapshot: Snapshot, now: datetime) -> None:
        result = reconciler.run_pass(snapshot.models, now)
        wake = result.next_wake
        if wake is not None and wake != requested[0]:  # ask once per upcoming edge
            requested[0] = wake
            handle.wake_at(wake)

    handle = monitor.add_reconciler(NAME, interval, run)

    def conditions(snapshot: Snapshot, now: datetime) -> list[Condition]:
        return [condition(item) for item in reconciler.last_unhealthy]

    monitor.add_condition_source(conditions)
    return reconciler
