"""Start/stop schedules: windows -> desired replica count -> a reconciler that applies it.

Layers, lowest first (each imports only those above it in this list):

- :mod:`~mlctl.schedule.problems` — the field error every parser raises;
- :mod:`~mlctl.schedule.zones`, :mod:`~mlctl.schedule.localtime` — IANA zones and the
  wall-clock → instant rule for DST gaps and folds;
- :mod:`~mlctl.schedule.fields` — one parser per field (days, times, zone, cron, instant),
  usable on its own so a form can validate as the user types;
- :mod:`~mlctl.schedule.rules` — the three window kinds (weekly, cron pair, one-off);
- :mod:`~mlctl.schedule.timeline` — ``desired(schedule, t)`` and
  ``next_transitions(schedule, t, n)``, pure functions of the windows and an instant;
- :mod:`~mlctl.schedule.spec` — the stored/bundle form (validated with pydantic) and its
  compilation into a :class:`~mlctl.schedule.timeline.Schedule`;
- :mod:`~mlctl.schedule.plan` — the reconciler's decision, pure;
- :mod:`~mlctl.schedule.store`, :mod:`~mlctl.schedule.reconciler` — the I/O: Nomad
  Variables with check-and-set, and scaling through Nomad.

Everything up to ``plan`` is free of I/O and tested directly.
"""
