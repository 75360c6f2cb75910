"""Everything the TUI asks of Nomad, through mlctl's own facades (no HTTP of its own).

Model operations reuse :mod:`mlctl.deploy.lifecycle` (the functions behind ``mlctl
scale/stop/restart/rollback/promote/history``) and schedules reuse
:mod:`mlctl.schedule.service`, so the TUI and the CLI do exactly the same thing. Each
namespace gets its own client (Nomad's namespace is a property of the client); clients
come from :mod:`mlctl.session`, which picks the token.

Every method blocks on the network: the TUI calls them only from worker threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from mlctl.deploy import lifecycle
from mlctl.errors import Conflict, MlctlError
from mlctl.monitor import notes as alert_notes
from mlctl.monitor.clock import Clock, utc_now
from mlctl.monitor.notes import AlertNote
from mlctl.nomad.client import NomadClient
from mlctl.schedule import service as schedules
from mlctl.schedule import store as schedule_store
from mlctl.schedule.edit import window_spec
from mlctl.schedule.spec import StoredSchedule
from mlctl.schedule.view import state as schedule_state
from mlctl.settings import Settings
from mlctl_tui.services.logs import Ended, LogFollower, LogTarget, Sink

#: Drain deadline: after it Nomad stops what has not migrated yet.
DRAIN_DEADLINE_SECONDS = 3600.0
#: Seconds a client (and the token it resolved) is reused; then the token is resolved
#: again, which renews a cached login that is due (a TUI may stay open for days).
CLIENT_TTL = 300.0


def actor_of(settings: Settings) -> str:
    """Who is acting: the logged-in user, else the local account."""
    from mlctl.deploy.pipeline import deployed_by

    return deployed_by(settings)


class Follow(Protocol):
    """A running log follow: a worker runs :meth:`run`; :meth:`stop` ends it from anywhere."""

    def run(self) -> None: ...

    def stop(self) -> None: ...


class Backend(Protocol):
    """What the TUI needs from the cluster. :class:`NomadBackend` is the real one; tests
    of drawing use an in-memory one with fixed data."""

    @property
    def address(self) -> str: ...

    def actor(self) -> str: ...

    def token_self(self) -> dict[str, Any]: ...

    def policy_rules(self, name: str) -> str: ...

    def schedules(self) -> dict[tuple[str, str], StoredSchedule]: ...

    def notes(self) -> dict[str, AlertNote]: ...

    def history(self, namespace: str, model: str) -> list[dict[str, Any]]: ...

    def scale(self, namespace: str, model: str, count: int) -> str: ...

    def start_target(self, namespace: str, model: str) -> tuple[int, str]: ...

    def start(self, namespace: str, model: str, count: int) -> str: ...

    def stop(self, namespace: str, model: str) -> str: ...

    def restart_model(self, namespace: str, model: str) -> str: ...

    def restart_allocs(self, namespace: str, alloc_ids: list[str]) -> str: ...

    def stop_alloc(self, namespace: str, alloc_id: str) -> str: ...

    def promote(self, namespace: str, model: str) -> str: ...

    def rollback(self, namespace: str, model: str, version: int) -> str: ...

    def drain(self, node_id: str) -> str: ...

    def set_eligibility(self, node_id: str, eligible: bool) -> str: ...

    def save_window(
        self, namespace: str, model: str, raw: dict[str, Any], replace_index: int | None
    ) -> StoredSchedule: ...

    def remove_window(self, namespace: str, model: str, index: int) -> str: ...

    def set_paused(self, namespace: str, model: str, paused: bool) -> str: ...

    def save_note(self, note: AlertNote) -> str: ...

    def delete_note(self, namespace: str, fingerprint: str) -> str: ...

    def follow_log(self, namespace: str, target: LogTarget, sink: Sink, ended: Ended) -> Follow: ...

    def previous_instance(self, namespace: str, alloc_id: str) -> str: ...


class NomadBackend:
    """The TUI's link to Nomad (and, through Nomad Variables, to schedules and notes)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock = utc_now,
        connect: Callable[[Settings], NomadClient] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._connect = connect or _session_client
        self._clients: dict[str, tuple[float, NomadClient]] = {}
        self._lock = threading.Lock()
        self._actor: str | None = None

    # ------------------------------------------------------------------ clients

    def client(self, namespace: str | None = None) -> NomadClient:
        name = namespace or self.settings.nomad_namespace
        now = time.monotonic()
        with self._lock:
            cached = self._clients.get(name)
            if cached is not None and now - cached[0] < CLIENT_TTL:
                return cached[1]
            client = self._connect(self.settings.with_overrides(nomad_namespace=name))
            self._clients[name] = (now, client)
            return client

    @property
    def address(self) -> str:
        return self.settings.nomad_addr

    def actor(self) -> str:
        if self._actor is None:
            self._actor = actor_of(self.settings)
        return self._actor

    # ------------------------------------------------------------------ reads

    def token_self(self) -> dict[str, Any]:
        data: dict[str, Any] = self.client().transport.json("get", "acl", "token", "self")
        return data

    def policy_rules(self, name: str) -> str:
        data = self.client().transport.json("get", "acl", "policy", name)
        return str((data or {}).get("Rules") or "")

    def schedules(self) -> dict[tuple[str, str], StoredSchedule]:
        """Every stored schedule the token may read, by (namespace, model)."""
        entries = schedule_store.list_entries(self.client(), "*")
        return {(e.namespace, e.model): e.doc for e in entries}

    def notes(self) -> dict[str, AlertNote]:
        """Operators' notes on alerts (acknowledged, silenced), by fingerprint: the ones
        the monitor honours too (a note is taken only from its alert's namespace)."""
        return {note.fingerprint: note for note in alert_notes.read_all(self.client())}

    def history(self, namespace: str, model: str) -> list[dict[str, Any]]:
        return lifecycle.history(self.client(namespace), model)

    # ------------------------------------------------------------------ model actions

    def scale(self, namespace: str, model: str, count: int) -> str:
        client = self.client(namespace)
        response = lifecycle.scale(client, model, count, by=self.actor())
        note = self._note_override(client, model, count)
        return (
            f"{model} in {namespace}: scaling to {count} (evaluation "
            f"{str(response.get('EvalID') or '-')[:8]}){note}"
        )

    def _note_override(self, client: NomadClient, model: str, count: int) -> str:
        """A manual count on a scheduled model holds until the schedule's next transition."""
        try:
            doc = schedules.record_override(client, model, count, by=self.actor(), now=self.clock())
        except MlctlError as error:
            return f"; the schedule's override could not be recorded: {error.one_line()}"
        return "; held as the schedule's override until its next transition" if doc else ""

    def start_target(self, namespace: str, model: str) -> tuple[int, str]:
        """How many replicas "start" means: the schedule's, else the bundle's."""
        client = self.client(namespace)
        entry = schedule_store.read(client, model)
        if entry is not None and not entry.doc.paused:
            current = schedule_state(entry.doc, self.clock())
            if current.scheduled > 0:
                return current.scheduled, "the schedule's count now"
            return (
                entry.doc.replicas,
                "the schedule's replicas, as an override until its next transition",
            )
        job = lifecycle.read_model(client, model)
        counts = [int(g.get("Count") or 0) for g in job.get("TaskGroups") or []]
        if counts and counts[0] > 0:
            return counts[0], "the bundle's replicas"
        for version in client.jobs.versions(job["ID"]):
            groups = version.get("TaskGroups") or []
            count = int(groups[0].get("Count") or 0) if groups else 0
            if count > 0:
                return count, f"the replicas of job version {version.get('Version')}"
        return 1, "no earlier count is known"

    def start(self, namespace: str, model: str, count: int) -> str:
        """Run ``model`` with ``count`` replicas: a stopped job is registered again (as
        ``nomad job start`` does), a job scaled to 0 is scaled up."""
        client = self.client(namespace)
        job = lifecycle.read_model(client, model)
        if not job.get("Stop"):
            return self.scale(namespace, model, count)
        job["Stop"] = False
        for group in job.get("TaskGroups") or []:
            group["Count"] = count
        client.jobs.register(job, enforce_index=int(job.get("JobModifyIndex") or 0))
        note = self._note_override(client, model, count)
        return f"{model} in {namespace}: started with {count} replicas{note}"

    def stop(self, namespace: str, model: str) -> str:
        lifecycle.stop(self.client(namespace), model, purge=False)
        return f"{model} in {namespace}: stopping"

    def restart_model(self, namespace: str, model: str) -> str:
        restarted = lifecycle.restart(self.client(namespace), model)
        return f"{model} in {namespace}: restarting {len(restarted)} allocations"

    def restart_allocs(self, namespace: str, alloc_ids: list[str]) -> str:
        client = self.client(namespace)
        for alloc_id in alloc_ids:
            client.allocations.restart(alloc_id)
        return f"restarting {len(alloc_ids)} allocations in {namespace}"

    def stop_alloc(self, namespace: str, alloc_id: str) -> str:
        self.client(namespace).allocations.stop(alloc_id)
        return f"allocation {alloc_id[:8]} stopping; Nomad places a replacement"

    def promote(self, namespace: str, model: str) -> str:
        result = lifecycle.promote(self.client(namespace), model)
        return f"{model} in {namespace}: promoted deployment {str(result['deployment_id'])[:8]}"

    def rollback(self, namespace: str, model: str, version: int) -> str:
        result = lifecycle.rollback(self.client(namespace), model, version)
        return (
            f"{model} in {namespace}: rolling back from version {result['from_version']} "
            f"to {result['to_version']}"
        )

    # ------------------------------------------------------------------ nodes

    def drain(self, node_id: str) -> str:
        self.client().nodes.drain(node_id, DRAIN_DEADLINE_SECONDS)
        return f"node {node_id[:8]}: draining"

    def set_eligibility(self, node_id: str, eligible: bool) -> str:
        self.client().nodes.set_eligibility(node_id, eligible)
        return f"node {node_id[:8]}: marked {'eligible' if eligible else 'ineligible'}"

    # ------------------------------------------------------------------ schedules

    def save_window(
        self, namespace: str, model: str, raw: dict[str, Any], replace_index: int | None
    ) -> StoredSchedule:
        """Add a window (or replace window ``replace_index``) with check-and-set."""
        spec = window_spec(raw)
        client = self.client(namespace)
        if replace_index is None:
            return schedules.add_window(client, model, spec, by=self.actor(), now=self.clock())

        def change(doc: StoredSchedule | None) -> StoredSchedule:
            if doc is None or replace_index >= len(doc.windows):
                raise Conflict(f"the schedule of {model} changed meanwhile; open it again")
            windows = list(doc.windows)
            windows[replace_index] = spec
            fresh = StoredSchedule.model_validate(
                doc.model_copy(update={"windows": windows}).model_dump(by_alias=True)
            )
            return schedule_store.stamp(fresh, self.actor(), self.clock())

        result = schedule_store.update(client, model, change)
        assert result is not None
        return result

    def remove_window(self, namespace: str, model: str, index: int) -> str:
        doc = schedules.remove(
            self.client(namespace), model, str(index + 1), by=self.actor(), now=self.clock()
        )
        return f"{model}: window removed" + ("" if doc else "; the schedule is gone")

    def set_paused(self, namespace: str, model: str, paused: bool) -> str:
        schedules.set_paused(
            self.client(namespace), model, paused, by=self.actor(), now=self.clock()
        )
        return f"{model}: schedule {'paused' if paused else 'resumed'}"

    # ------------------------------------------------------------------ alert notes

    def save_note(self, note: AlertNote) -> str:
        """Write a note with check-and-set (a lost race is re-read and written again)."""
        alert_notes.save(self.client(note.namespace), note)
        return "saved"

    def delete_note(self, namespace: str, fingerprint: str) -> str:
        alert_notes.delete(self.client(namespace), namespace, fingerprint)
        return "removed"

    # ------------------------------------------------------------------ logs

    def follow_log(self, namespace: str, target: LogTarget, sink: Sink, ended: Ended) -> Follow:
        return LogFollower(self.client(namespace), target, sink, ended)

    def previous_instance(self, namespace: str, alloc_id: str) -> str:
        """The allocation ``alloc_id`` replaced in its slot (Nomad's ``PreviousAllocation``
        of the full allocation), or "" when it replaced none."""
        found = self.client(namespace).allocations.read(alloc_id)
        return str(found.get("PreviousAllocation") or "")

    def now(self) -> datetime:
        return self.clock()


def _session_client(settings: Settings) -> NomadClient:
    from mlctl.session import nomad_client

    return nomad_client(settings)
