"""The simulated clients and deployment watcher, advanced by a background ticker.

Allocations go Received -> Task Setup -> Driver -> Started (or a "Driver Failure"),
become healthy after ``min_healthy_time``, fail by OOM or exit code when steered to,
and restart per the restart policy.  Deployments count placed/healthy/unhealthy
allocations, honour canaries, auto-promotion and progress deadlines, mark the job
version stable on success and auto-revert to the last stable version on failure.
"""

from __future__ import annotations

import copy
from typing import Any

from . import jobspec
from .alloc import Alloc, task_event
from .cluster import Cluster
from .durations import format_duration
from .scheduler import Reconciler

JSON = dict[str, Any]
CRASH_AFTER = 5.0  # simulated seconds an "oom"/"exit:N" task runs before it dies
DEFAULT_PULL_ERROR = (
    "Failed to pull `{image}`: Error response from daemon: manifest for {image} not found: "
    "manifest unknown: manifest unknown"
)


def _log(alloc: Alloc, task: str, stream: str, line: str) -> None:
    alloc.logs.setdefault((task, stream), bytearray()).extend(line.encode() + b"\n")


def _image(alloc: Alloc, task: str) -> str:
    for t in alloc.group()["Tasks"]:
        if t["Name"] == task:
            return str((t.get("Config") or {}).get("image") or t["Driver"])
    return "unknown"


class Lifecycle:
    """Advance every allocation and deployment to ``clock.now()``; called by the ticker."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def tick(self) -> None:
        cluster = self.cluster
        with cluster.store.lock:
            now = cluster.store.clock.now()
            for alloc in list(cluster.allocs.values()):
                if alloc.desired_status == "run" and not alloc.terminal:
                    self._advance(alloc, now)
            for dep in list(cluster.deployments.values()):
                if dep["Status"] == "running":
                    self._watch(dep, now)
            for key, job in list(cluster.jobs.items()):
                reconcile(cluster, job, trigger=None)
                cluster.update_job_status(key)

    # ------------------------------------------------------------------ allocations

    def _advance(self, alloc: Alloc, now: float) -> None:
        if alloc.phase in ("received", "restarting") and now >= alloc.next_at:
            self._start(alloc, now)
        elif alloc.phase == "running":
            mode = alloc.behaviour
            if (mode == "oom" or mode.startswith("exit:")) and now >= alloc.next_at:
                code = 137 if mode == "oom" else int(mode.split(":", 1)[1])
                for task in alloc.task_states:
                    self.terminate(alloc, task, code, oom=mode == "oom")
        if alloc.deployment_id:
            self._health(alloc, now)

    def _start(self, alloc: Alloc, now: float) -> None:
        cluster = self.cluster
        now_ns = cluster.now_ns()
        mode = alloc.behaviour
        for name, state in alloc.task_states.items():
            events = state["Events"]
            if alloc.phase == "received":
                events.append(
                    task_event(
                        "Task Setup",
                        "Building Task Directory",
                        now_ns,
                        Message="Building Task Directory",
                    )
                )
                task = next(t for t in alloc.group()["Tasks"] if t["Name"] == name)
                if task.get("Artifacts"):
                    events.append(
                        task_event(
                            "Downloading Artifacts", "Client is downloading artifacts", now_ns
                        )
                    )
            events.append(
                task_event(
                    "Driver",
                    "Downloading image",
                    now_ns,
                    {"image": _image(alloc, name)},
                    DriverMessage="Downloading image",
                )
            )
            if mode == "fail" or mode.startswith("fail:"):
                message = (
                    mode[5:]
                    if mode.startswith("fail:")
                    else DEFAULT_PULL_ERROR.format(image=_image(alloc, name))
                )
                events.append(
                    task_event(
                        "Driver Failure",
                        message,
                        now_ns,
                        {"driver_error": message},
                        DriverError=message,
                    )
                )
                _log(alloc, name, "stderr", f"driver: {message}")
                self._task_failed(alloc, name, now)
                continue
            events.append(task_event("Started", "Task started by client", now_ns))
            state["State"] = "running"
            state["StartedAt"] = state["StartedAt"] or now_ns
            _log(alloc, name, "stdout", f"[{alloc.name}] task {name} started (sim)")
            _log(alloc, name, "stdout", f"[{alloc.name}] listening on 0.0.0.0:{self._port(alloc)}")
        if alloc.phase != "dead" and all(
            s["State"] == "running" for s in alloc.task_states.values()
        ):
            alloc.phase = "running"
            alloc.running_since = now
            alloc.next_at = now + CRASH_AFTER
            alloc.client_status = "running"
            alloc.client_description = "Tasks are running"
        cluster.touch_alloc(alloc)

    @staticmethod
    def _port(alloc: Alloc) -> int:
        return (
            int(alloc.offer.ports[0]["To"] or alloc.offer.ports[0]["Value"])
            if alloc.offer.ports
            else 0
        )

    def terminate(self, alloc: Alloc, task: str, code: int, oom: bool = False) -> None:
        """A running task exits (steered or by behaviour); restarts follow the policy."""
        now_ns = self.cluster.now_ns()
        state = alloc.task_states[task]
        if oom:
            details = {"exit_code": code, "signal": 0, "oom_killed": "true"}
            message = f'Exit Code: {code}, Exit Message: "OOM Killed"'
            _log(alloc, task, "stderr", "Killed (out of memory)")
        else:
            details = {"exit_code": code, "signal": 0}
            message = f"Exit Code: {code}"
            _log(alloc, task, "stderr", f"process exited with code {code}")
        state["Events"].append(task_event("Terminated", message, now_ns, details, ExitCode=code))
        self._task_failed(alloc, task, self.cluster.store.clock.now())
        self.cluster.touch_alloc(alloc)

    def _task_failed(self, alloc: Alloc, task: str, now: float) -> None:
        state = alloc.task_states[task]
        now_ns = self.cluster.now_ns()
        policy = next(t["RestartPolicy"] for t in alloc.group()["Tasks"] if t["Name"] == task) or {}
        attempts, delay = policy.get("Attempts", 0), policy.get("Delay", 0)
        alloc.running_since = None
        if state["Restarts"] < attempts or policy.get("Mode") == "delay":
            if state["Restarts"] >= attempts:  # mode "delay": wait out the interval, then retry
                delay = policy.get("Interval", delay)
            state["Restarts"] += 1
            state["LastRestart"] = now_ns
            state["State"] = "pending"
            reason = "Restart within policy"
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
        reason = (
            f"Exceeded allowed attempts {attempts} in interval "
            f"{format_duration(policy.get('Interval', 0))} and mode is "
            f'"{policy.get("Mode", "fail")}"'
        )
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

    def _health(self, alloc: Alloc, now: float) -> None:
        status = alloc.deployment_status or {}
        if status.get("Healthy") is not None or not alloc.deployment_id:
            return
        update = alloc.group().get("Update") or {}
        min_healthy = (update.get("MinHealthyTime") or 0) / 1e9
        verdict: bool | None = None
        why = ""
        if alloc.forced_health is not None:
            verdict = alloc.forced_health
            why = "Marked unhealthy by the simulator"
        elif alloc.client_status == "failed":
            verdict, why = False, "Unhealthy because of failed task"
        elif (
            alloc.behaviour == "healthy"
            and alloc.running_since is not None
            and now - alloc.running_since >= min_healthy
        ):
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
