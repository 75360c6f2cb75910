"""The engine's client and deployment watcher, advanced by a background ticker.

Allocations go Received -> Task Setup -> (Downloading Artifacts) -> Driver -> Started
(or a "Driver Failure"); how tasks really start, end and become ready is the task
driver's business (:mod:`mlctl.local.engine.drivers`), everything else is shared:
restarts per the restart policy (``attempts`` within ``interval``, ``delay``, ``mode``),
health after ``min_healthy_time`` of readiness, and deployments that count
placed/healthy/unhealthy allocations, honour canaries, auto-promotion and progress
deadlines, mark the job version stable on success and auto-revert to the last stable
version on failure.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from . import jobspec
from .alloc import Alloc, task_event
from .cluster import Cluster
from .drivers import Drivers, TaskRunner, log_line, simulated
from .durations import format_duration
from .scheduler import Reconciler

JSON = dict[str, Any]
GC_EVERY = 60.0  # real seconds between garbage collections (when a collector is set)


class Lifecycle:
    """Advance every allocation and deployment to ``clock.now()``; called by the ticker.

    ``reconcile_every`` (real seconds) lets an idle engine skip re-running the
    reconciler over every job on every tick: it always runs when the state changed.
    """

    def __init__(
        self, cluster: Cluster, drivers: Drivers | None = None, reconcile_every: float = 0.0
    ) -> None:
        self.cluster = cluster
        self.drivers = drivers or simulated()
        self.reconcile_every = reconcile_every
        self._reconciled_at = 0.0
        self._reconciled_index = -1
        self.collector: Callable[[], int] | None = None
        """Garbage collection of old terminal objects (``mlctl local``; see gc.py)."""
        self._collected_at = time.monotonic()
        cluster.on_alloc_stop = self._stop_tasks
        cluster.start_delay = lambda group: (
            self.drivers.runner(group["Tasks"][0]["Driver"]).start_delay
        )

    def runner(self, alloc: Alloc) -> TaskRunner:
        return self.drivers.for_alloc(alloc)

    def tick(self, force: bool = False) -> None:
        cluster = self.cluster
        with cluster.store.lock:
            now = cluster.store.clock.now()
            for alloc in list(cluster.allocs.values()):
                if alloc.desired_status == "run" and not alloc.terminal:
                    self._advance(alloc, now)
            for dep in list(cluster.deployments.values()):
                if dep["Status"] == "running":
                    self._watch(dep, now)
            if force or self._reconcile_due():
                for key, job in list(cluster.jobs.items()):
                    reconcile(cluster, job, trigger=None)
                    cluster.update_job_status(key)
                self._reconciled_at = time.monotonic()
                self._reconciled_index = cluster.store.index
            if self.collector is not None and time.monotonic() - self._collected_at >= GC_EVERY:
                self._collected_at = time.monotonic()
                self.collector()
            cluster.store.commit()

    def busy(self) -> bool:
        """Something is in flight: a task starting or waiting to restart, a health
        verdict or a deployment pending, a blocked evaluation waiting for room."""
        cluster = self.cluster
        with cluster.store.lock:
            for alloc in cluster.allocs.values():
                if alloc.desired_status != "run" or alloc.terminal:
                    continue
                if alloc.phase != "running":
                    return True
                if alloc.deployment_id and (alloc.deployment_status or {}).get("Healthy") is None:
                    return True
            if any(d["Status"] == "running" for d in cluster.deployments.values()):
                return True
            return any(e["Status"] == "blocked" for e in cluster.evals.values())

    def _reconcile_due(self) -> bool:
        if self.cluster.store.index != self._reconciled_index:
            return True
        return time.monotonic() - self._reconciled_at >= self.reconcile_every

    # ------------------------------------------------------------------ allocations

    def _advance(self, alloc: Alloc, now: float) -> None:
        runner = self.runner(alloc)
        if alloc.phase in ("received", "restarting") and now >= alloc.next_at:
            runner.start(self, alloc, now)
        elif alloc.phase in ("running", "starting"):
            runner.poll(self, alloc, now)
        if alloc.deployment_id:
            self._health(alloc, now)

    def _stop_tasks(self, alloc: Alloc) -> bool:
        return self.runner(alloc).stop(self, alloc)

    # Helpers the drivers call (with the store lock held) ---------------------------

    def setup_events(self, alloc: Alloc, task: str, now_ns: int) -> None:
        """Task Setup (and Downloading Artifacts when the task has any)."""
        events = alloc.task_states[task]["Events"]
        message = "Building Task Directory"
        events.append(task_event("Task Setup", message, now_ns, Message=message))
        spec = next(t for t in alloc.group()["Tasks"] if t["Name"] == task)
        if spec.get("Artifacts"):
            events.append(
                task_event("Downloading Artifacts", "Client is downloading artifacts", now_ns)
            )

    def task_started(self, alloc: Alloc, task: str, now_ns: int) -> None:
        state = alloc.task_states[task]
        state["Events"].append(task_event("Started", "Task started by client", now_ns))
        state["State"] = "running"
        state["StartedAt"] = state["StartedAt"] or now_ns

    @staticmethod
    def all_running(alloc: Alloc) -> bool:
        return alloc.phase != "dead" and all(
            s["State"] == "running" for s in alloc.task_states.values()
        )

    @staticmethod
    def alloc_running(alloc: Alloc, now: float) -> None:
        alloc.phase = "running"
        alloc.running_since = now
        alloc.client_status = "running"
        alloc.client_description = "Tasks are running"

    def restart_signaled(self, alloc: Alloc, task: str, now_ns: int) -> None:
        events = alloc.task_states[task]["Events"]
        reason = "User requested restart"
        events.append(
            task_event(
                "Restart Signaled", reason, now_ns, {"restart_reason": reason}, RestartReason=reason
            )
        )
        events.append(
            task_event(
                "Restarting",
                "Task restarting in 0s",
                now_ns,
                {"restart_reason": reason, "start_delay": 0},
                RestartReason=reason,
            )
        )

    def terminate(
        self, alloc: Alloc, task: str, code: int, oom: bool = False, signal: int = 0
    ) -> None:
        """A running task exited; a batch task that exits 0 is done, anything else is a
        failure that the restart policy handles."""
        now_ns = self.cluster.now_ns()
        state = alloc.task_states[task]
        details: JSON = {"exit_code": code, "signal": signal}
        if oom:
            details["oom_killed"] = "true"
            message = f'Exit Code: {code}, Exit Message: "OOM Killed"'
            log_line(alloc, task, "stderr", "Killed (out of memory)")
        else:
            message = f"Exit Code: {code}" + (f", Signal: {signal}" if signal else "")
            log_line(alloc, task, "stderr", f"process exited with code {code}")
        state["Events"].append(
            task_event("Terminated", message, now_ns, details, ExitCode=code, Signal=signal)
        )
        now = self.cluster.store.clock.now()
        if code == 0 and not oom and alloc.job["Type"] in ("batch", "sysbatch"):
            self._task_completed(alloc, task, now)
        else:
            self.task_failed(alloc, task, now)
        self.cluster.touch_alloc(alloc)

    def _task_completed(self, alloc: Alloc, task: str, now: float) -> None:
        state = alloc.task_states[task]
        state["State"] = "dead"
        state["FinishedAt"] = self.cluster.now_ns()
        alloc.running_since = None
        if all(s["State"] == "dead" for s in alloc.task_states.values()):
            failed = any(s["Failed"] for s in alloc.task_states.values())
            alloc.phase = "dead"
            alloc.finished_at = now
            alloc.client_status = "failed" if failed else "complete"
            alloc.client_description = "Failed tasks" if failed else "All tasks have completed"

    def task_failed(self, alloc: Alloc, task: str, now: float) -> None:
        """Restart per the task's restart policy, or fail the task (and the allocation)."""
        state = alloc.task_states[task]
        now_ns = self.cluster.now_ns()
        policy = next(t["RestartPolicy"] for t in alloc.group()["Tasks"] if t["Name"] == task) or {}
        alloc.running_since = None
        restart, delay, reason = self._restart_decision(alloc, task, now, policy)
        if restart:
            state["Restarts"] += 1
            state["LastRestart"] = now_ns
            state["State"] = "pending"
            state["Events"].append(
                task_event(
                    "Restarting",
                    f"Task restarting in {format_duration(delay)}",
                    now_ns,
                    {"restart_reason": reason, "start_delay": delay},
                    RestartReason=reason,
                    StartDelay=delay,
                )
            )
            alloc.phase = "restarting"
            alloc.next_at = now + delay / 1e9
            alloc.client_status = "pending"
            return
        state["Events"].append(
            task_event(
                "Not Restarting",
                reason,
                now_ns,
                {"fails_task": "true", "restart_reason": reason},
                FailsTask=True,
                RestartReason=reason,
            )
        )
        state["State"] = "dead"
        state["Failed"] = True
        state["FinishedAt"] = now_ns
        alloc.phase = "dead"
        alloc.finished_at = now
        alloc.client_status = "failed"
        alloc.client_description = "Failed tasks"
        self.runner(alloc).stop(self, alloc)  # siblings of a failed task stop too

    @staticmethod
    def _restart_decision(
        alloc: Alloc, task: str, now: float, policy: JSON
    ) -> tuple[bool, int, str]:
        """Nomad's restart tracker: ``attempts`` restarts per ``interval`` window; past
        that, mode ``fail`` gives up and mode ``delay`` waits for the window to end."""
        attempts, delay = policy.get("Attempts", 0), policy.get("Delay", 0)
        interval = (policy.get("Interval") or 0) / 1e9
        window = alloc.restart_windows.setdefault(task, [alloc.created_at, 0])
        if interval and now - window[0] > interval:
            window[0], window[1] = now, 0
        window[1] += 1
        if window[1] <= attempts:
            return True, delay, "Restart within policy"
        mode = policy.get("Mode", "fail")
        if mode == "delay":
            wait = max(0.0, window[0] + interval - now) if interval else 0.0
            window[0], window[1] = now + wait, 0
            reason = (
                f"Exceeded allowed attempts {attempts} in interval "
                f"{format_duration(policy.get('Interval', 0))}, applying a delay"
            )
            return True, int(max(wait * 1e9, delay)), reason
        reason = (
            f"Exceeded allowed attempts {attempts} in interval "
            f"{format_duration(policy.get('Interval', 0))} and mode is "
            f'"{mode}"'
        )
        return False, 0, reason

    def _health(self, alloc: Alloc, now: float) -> None:
        status = alloc.deployment_status or {}
        if status.get("Healthy") is not None or not alloc.deployment_id:
            return
        update = alloc.group().get("Update") or {}
        min_healthy = (update.get("MinHealthyTime") or 0) / 1e9
        verdict: bool | None = None
        why = ""
        ready_since = (
            self.runner(alloc).ready_since(alloc, now) if alloc.phase == "running" else None
        )
        if alloc.forced_health is not None:
            verdict = alloc.forced_health
            why = "Marked unhealthy by the simulator"
        elif alloc.client_status == "failed":
            verdict, why = False, "Unhealthy because of failed task"
        elif ready_since is not None and now - ready_since >= min_healthy:
            verdict = True
        elif now >= alloc.health_deadline and update.get("HealthyDeadline"):
            verdict = False
            why = (
                "Task not running by healthy_deadline of "
                f"{format_duration(update['HealthyDeadline'])}"
                if alloc.client_status != "running"
                else "Services not healthy by deadline"
            )
        if verdict is None:
            return
        now_ns = self.cluster.now_ns()
        alloc.deployment_status = {
            "Healthy": verdict,
            "Timestamp": now_ns,
            "Canary": alloc.canary,
            "ModifyIndex": self.cluster.store.index + 1,
        }
        if not verdict:
            for state in alloc.task_states.values():
                state["Events"].append(task_event("Alloc Unhealthy", why, now_ns))
        self.cluster.touch_alloc(alloc)

    # ------------------------------------------------------------------ deployments

    def _watch(self, dep: JSON, now: float) -> None:
        cluster = self.cluster
        allocs = [a for a in cluster.allocs.values() if a.deployment_id == dep["ID"]]
        changed = False
        unhealthy = False
        for name, state in dep["TaskGroups"].items():
            mine = [a for a in allocs if a.task_group == name]
            healthy = sum(1 for a in mine if (a.deployment_status or {}).get("Healthy") is True)
            bad = sum(1 for a in mine if (a.deployment_status or {}).get("Healthy") is False)
            if healthy > state["HealthyAllocs"] and state["ProgressDeadline"]:
                state["RequireProgressBy"] = cluster.store.clock.wall_ns(
                    now + state["ProgressDeadline"] / 1e9
                )
            if (healthy, bad) != (state["HealthyAllocs"], state["UnhealthyAllocs"]):
                state["HealthyAllocs"], state["UnhealthyAllocs"] = healthy, bad
                changed = True
            unhealthy = unhealthy or bad > 0
        if changed:
            cluster.touch_deployment(dep, "DeploymentAllocHealth")
        if unhealthy:
            self.fail(dep, "Failed due to unhealthy allocations")
            return
        for state in dep["TaskGroups"].values():
            deadline = state["RequireProgressBy"]
            if (
                deadline
                and cluster.store.clock.wall_ns(now) > deadline
                and not self._group_done(dep, state)
            ):
                self.fail(dep, "Failed due to progress deadline")
                return
        self._canaries(dep)
        job = cluster.job(dep["Namespace"], dep["JobID"])
        if job is None:
            return
        if all(self._group_done(dep, s, name) for name, s in dep["TaskGroups"].items()):
            dep["Status"] = "successful"
            dep["StatusDescription"] = "Deployment completed successfully"
            cluster.touch_deployment(dep)
            self._mark_stable(dep)

    def _group_done(self, dep: JSON, state: JSON, name: str | None = None) -> bool:
        if state["DesiredCanaries"] and not state["Promoted"]:
            return False
        if state["HealthyAllocs"] < state["DesiredTotal"]:
            return False
        if name is None:
            return True
        key = (dep["Namespace"], dep["JobID"])
        old = [
            a
            for a in self.cluster.job_allocs(key)
            if a.task_group == name and a.live and a.job_version != dep["JobVersion"]
        ]
        return not old

    def _canaries(self, dep: JSON) -> None:
        for state in dep["TaskGroups"].values():
            if not state["DesiredCanaries"] or state["Promoted"]:
                continue
            placed = state["PlacedCanaries"] or []
            healthy = [
                i for i in placed if (self.cluster.allocs[i].deployment_status or {}).get("Healthy")
            ]
            if len(healthy) < state["DesiredCanaries"]:
                return
        pending = [
            s for s in dep["TaskGroups"].values() if s["DesiredCanaries"] and not s["Promoted"]
        ]
        if pending and all(s["AutoPromote"] for s in pending):
            promote(self.cluster, dep, None)

    def _mark_stable(self, dep: JSON) -> None:
        job = self.cluster.job(dep["Namespace"], dep["JobID"])
        version = self.cluster.job_version(dep["Namespace"], dep["JobID"], dep["JobVersion"])
        if version is not None:
            version["Stable"] = True
        if job is not None and job["Version"] == dep["JobVersion"]:
            job["Stable"] = True
            job["ModifyIndex"] = self.cluster.store.bump("jobs", "job_versions")

    def fail(self, dep: JSON, description: str) -> None:
        """Fail a deployment and, when its groups ask for it, revert to the last stable version."""
        cluster = self.cluster
        dep["Status"] = "failed"
        auto_revert = any(s["AutoRevert"] for s in dep["TaskGroups"].values())
        job = cluster.job(dep["Namespace"], dep["JobID"])
        if auto_revert and job is not None and job["Version"] == dep["JobVersion"]:
            stable = [
                v
                for v in cluster.versions.get((dep["Namespace"], dep["JobID"]), [])
                if v["Stable"] and v["Version"] < dep["JobVersion"]
            ]
            if not stable:
                description += " - no stable job version to auto revert to"
            else:
                target = max(stable, key=lambda v: v["Version"])
                if _same_spec(target, job):
                    description += (
                        f" - not rolling back to stable job version {target['Version']} "
                        "as current job has same specification"
                    )
                else:
                    description += f" - rolling back to job version {target['Version']}"
                    dep["StatusDescription"] = description
                    cluster.touch_deployment(dep)
                    from .jobops import register_version  # local: jobops imports this module

                    register_version(cluster, copy.deepcopy(target), "rollback")
                    return
        dep["StatusDescription"] = description
        cluster.touch_deployment(dep)


def _same_spec(a: JSON, b: JSON) -> bool:
    return jobspec.spec_of(a) == jobspec.spec_of(b)


def promote(cluster: Cluster, dep: JSON, groups: list[str] | None) -> None:
    """Promote canaries of the named groups (all when None)."""
    for name, state in dep["TaskGroups"].items():
        if groups is None or name in groups:
            state["Promoted"] = True
    if dep["Status"] == "running":
        dep["StatusDescription"] = "Deployment is running"
    cluster.touch_deployment(dep, "DeploymentPromotion")
    job = cluster.job(dep["Namespace"], dep["JobID"])
    if job is not None:
        reconcile(cluster, job, trigger=None)


def reconcile(cluster: Cluster, job: JSON, trigger: JSON | None) -> Reconciler:
    """Run the reconciler for a job; keep a blocked evaluation while placements fail."""
    key = (job["Namespace"], job["ID"])
    blocked = next(
        (
            e
            for e in cluster.evals.values()
            if (e["Namespace"], e["JobID"]) == key and e["Status"] == "blocked"
        ),
        None,
    )
    if trigger is not None:
        eval_id = trigger["ID"]
    elif blocked is not None:
        eval_id = blocked["ID"]
    else:
        latest = max(
            (e for e in cluster.evals.values() if (e["Namespace"], e["JobID"]) == key),
            key=lambda e: e["CreateIndex"],
            default=None,
        )
        eval_id = latest["ID"] if latest else ""
    rec = Reconciler(cluster, job, eval_id)
    outcome = rec.run()
    failed = outcome.failed_tg_allocs()
    if trigger is not None:
        trigger["Status"] = "complete"
        trigger["FailedTGAllocs"] = failed
        trigger["QueuedAllocations"] = outcome.queued()
        trigger["DeploymentID"] = outcome.deployment["ID"] if outcome.deployment else ""
        if failed and blocked is None:
            blocked = cluster.new_eval(
                job,
                "queued-allocs",
                status="blocked",
                StatusDescription="created to place remaining allocations",
                PreviousEval=trigger["ID"],
                FailedTGAllocs=failed,
                QueuedAllocations=outcome.queued(),
            )
        if failed and blocked is not None:
            trigger["BlockedEval"] = blocked["ID"]
        cluster.touch_eval(trigger)
    elif failed and blocked is not None and blocked.get("FailedTGAllocs") != failed:
        blocked["FailedTGAllocs"] = failed
        blocked["QueuedAllocations"] = outcome.queued()
        cluster.touch_eval(blocked)
    if not failed and blocked is not None:
        blocked["Status"] = "complete"
        blocked["StatusDescription"] = ""
        blocked["QueuedAllocations"] = outcome.queued()
        cluster.touch_eval(blocked)
    return rec
