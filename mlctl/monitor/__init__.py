"""The monitor loop: follow the cluster, raise alerts, notify, act.

Pipeline (each stage its own module; the pure ones do no I/O and are unit-tested)::

    follower (event stream + REST resync + polling fallback)      -> store (pure)
    prober (/readyz, /metrics of every endpoint)                  -> store
    store.snapshot() -> rules (pure) -> alerts (pure state machine) -> routing (pure)
                     -> outbox -> receivers (webhook, Slack, email, Alertmanager, event log)
                     -> actions (pure planner) -> executor (Nomad, state in Nomad Variables)
    reconcilers (e.g. schedules) run periodically off the loop with the snapshot and a clock

Contracts other parts build on: :mod:`mlctl.monitor.store` (Store, Snapshot, views in
:mod:`mlctl.monitor.views`), :mod:`mlctl.monitor.clock` (injectable clocks),
:mod:`mlctl.monitor.eventlog` (the JSONL event log) and
:meth:`mlctl.monitor.engine.Monitor.add_reconciler`.
"""
