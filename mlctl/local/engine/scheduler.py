"""The reconciler: turn a job version plus the allocations that exist into placements,
stops and deployments — idempotently, so the ticker can run it after every change.

Follows Nomad's service-job rules closely enough for clients to observe the same
shapes: fresh placements happen at once, destructive updates roll ``max_parallel`` at
a time gated on health, canaries wait for promotion, in-place updates keep the
allocation, failed placements record an AllocationMetric and leave a blocked
evaluation that is retried when capacity changes, failed allocations are rescheduled
per the reschedule policy (never those of a failed deployment).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import jobspec
from .alloc import Alloc, task_event
from .cluster import Cluster, JobKey
from .placement import Metric, NodeUsage, Offer, place
from .store import new_id

JSON = dict[str, Any]


@dataclass
class GroupOutcome:
    """What one reconcile pass decided for a task group (used by plan annotations)."""

    place: int = 0
    stop: int = 0
    inplace: int = 0
    destructive: int = 0
    canary: int = 0
    ignore: int = 0
    failed: int = 0
    metric: Metric | None = None

    def desired_updates(self) -> JSON:
        return {
            "Ignore": self.ignore,
            "Place": self.place,
            "Migrate": 0,
            "Stop": self.stop,
            "InPlaceUpdate": self.inplace,
            "DestructiveUpdate": self.destructive,
            "Canary": self.canary,
            "Preemptions": 0,
        }


@dataclass
class Outcome:
    groups: dict[str, GroupOutcome] = field(default_factory=dict)
    deployment: JSON | None = None

    def failed_tg_allocs(self) -> JSON | None:
        failed = {
            name: g.metric.to_api() for name, g in self.groups.items() if g.metric is not None
        }
        return failed or None

    def queued(self) -> JSON:
        return {name: g.failed for name, g in self.groups.items()}


def _healthy(alloc: Alloc) -> bool:
    return bool(alloc.deployment_status and alloc.deployment_status.get("Healthy") is True)


def _unhealthy(alloc: Alloc) -> bool:
    return bool(alloc.deployment_status and alloc.deployment_status.get("Healthy") is False)


class Reconciler:
    """One pass over one job.  ``dry_run`` computes the outcome without changing anything."""

    def __init__(self, cluster: Cluster, job: JSON, eval_id: str, dry_run: bool = False) -> None:
        self.cluster = cluster
        self.job = job
        self.key: JobKey = (job["Namespace"], job["ID"])
        self.eval_id = eval_id
        self.dry_run = dry_run
        self.usage: dict[str, NodeUsage] = cluster.usage()
        self.outcome = Outcome()
        self.now = cluster.store.clock.now()
        self.deployment = self._deployment_for_version()

    # ------------------------------------------------------------------ entry

    def run(self) -> Outcome:
        from .dispatch import is_parameterized

        if is_parameterized(self.job) or self.job.get("Periodic"):
            return self.outcome  # a template for dispatched/periodic children: never placed
        # A batch allocation that completed has done its work: it still fills its slot.
        kept = ("pending", "running", "failed") + (
            ("complete",) if self.job["Type"] in ("batch", "sysbatch") else ()
        )
        allocs = [
            a
            for a in self.cluster.job_allocs(self.key)
            if a.desired_status == "run" and a.client_status in kept
        ]
        for group in self.job["TaskGroups"]:
            mine = [a for a in allocs if a.task_group == group["Name"]]
            self.outcome.groups[group["Name"]] = self._group(group, mine)
        for alloc in allocs:  # groups removed from the job
            if alloc.task_group not in self.outcome.groups:
                self._stop(alloc, "alloc not needed due to job update")
        self.outcome.deployment = self.deployment
        return self.outcome

    # ------------------------------------------------------------------ helpers

    def _deployment_for_version(self) -> JSON | None:
        latest = self.cluster.latest_deployment(self.key)
        if (
            latest
            and latest["JobVersion"] == self.job["Version"]
            and latest["JobCreateIndex"] == self.job["CreateIndex"]
        ):
            return latest
        return None

    def _ensure_deployment(self, group: JSON, desired_canaries: int) -> JSON | None:
        update = group.get("Update")
        if self.job["Type"] != "service" or not update or not update.get("MaxParallel"):
            return None
        if self.deployment is not None and self.deployment["Status"] not in ("cancelled",):
            dep = self.deployment
        else:
            if self.dry_run:
                return None
            dep = self._new_deployment()
            self.deployment = dep
        state = dep["TaskGroups"].get(group["Name"])
        if state is None and not self.dry_run:
            state = {
                "AutoRevert": bool(update.get("AutoRevert")),
                "AutoPromote": bool(update.get("AutoPromote")),
                "ProgressDeadline": update.get("ProgressDeadline") or 0,
                "RequireProgressBy": None,
                "Promoted": False,
                "PlacedCanaries": None,
                "DesiredCanaries": desired_canaries,
                "DesiredTotal": group["Count"],
                "PlacedAllocs": 0,
                "HealthyAllocs": 0,
                "UnhealthyAllocs": 0,
            }
            if state["ProgressDeadline"]:
                state["RequireProgressBy"] = self.cluster.store.clock.wall_ns(
                    self.now + state["ProgressDeadline"] / 1e9
                )
            dep["TaskGroups"][group["Name"]] = state
            if desired_canaries and not state["AutoPromote"]:
                dep["StatusDescription"] = "Deployment is running but requires manual promotion"
            self.cluster.touch_deployment(dep)
        return dep

    def _new_deployment(self) -> JSON:
        for old in self.cluster.deployments.values():
            if (old["Namespace"], old["JobID"]) == self.key and old["Status"] in (
                "running",
                "paused",
                "pending",
            ):
                old["Status"] = "cancelled"
                old["StatusDescription"] = "Cancelled due to newer version of job"
                self.cluster.touch_deployment(old)
        index = self.cluster.store.bump("deployment")
        now = self.cluster.now_ns()
        dep = {
            "ID": new_id(),
            "Namespace": self.job["Namespace"],
            "JobID": self.job["ID"],
            "JobVersion": self.job["Version"],
            "JobModifyIndex": self.job["JobModifyIndex"],
            "JobSpecModifyIndex": self.job["JobModifyIndex"],
            "JobCreateIndex": self.job["CreateIndex"],
            "IsMultiregion": False,
            "TaskGroups": {},
            "Status": "running",
            "StatusDescription": "Deployment is running",
            "EvalPriority": self.job["Priority"],
            "CreateIndex": index,
            "ModifyIndex": index,
            "CreateTime": now,
            "ModifyTime": now,
        }
        self.cluster.deployments[dep["ID"]] = dep
        self.cluster.emit(
            "Deployment",
            "DeploymentStatusUpdate",
            dep["ID"],
            dep["Namespace"],
            {"Deployment": dep},
            [dep["JobID"]],
        )
        return dep

    @staticmethod
    def _free_indexes(taken: set[int]) -> Iterator[int]:
        """Allocation indexes not in use, lowest first (lazily: most passes need none)."""
        return (i for i in itertools.count() if i not in taken)

    def _migrated(self, group_name: str, index: int) -> Alloc | None:
        """The stopped allocation of this slot that was to migrate (``alloc stop``, a
        node drain) and has no replacement yet: as in Nomad, its replacement names it in
        ``PreviousAllocation``."""
        for alloc in self.cluster.job_allocs(self.key):
            if (
                alloc.task_group == group_name
                and alloc.index == index
                and alloc.desired_status != "run"
                and alloc.desired_transition.get("Migrate")
                and not alloc.next_allocation
            ):
                return alloc
        return None

    # ------------------------------------------------------------------ per group

    def _group(self, group: JSON, allocs: list[Alloc]) -> GroupOutcome:
        out = GroupOutcome()
        count = 0 if self.job["Stop"] else group["Count"]
        if self.job["Stop"]:
            for alloc in allocs:
                self._stop(alloc, "alloc not needed since job is stopped")
                out.stop += 1
            return out
        spec = jobspec.group_spec(group)
        current: list[Alloc] = []
        inplace: list[Alloc] = []
        outdated: list[Alloc] = []
        for alloc in allocs:
            if (
                alloc.job_version == self.job["Version"]
                and alloc.job["CreateIndex"] == self.job["CreateIndex"]
            ):
                current.append(alloc)
            elif jobspec.group_spec(alloc.group()) == spec and alloc.client_status != "failed":
                inplace.append(alloc)
            else:
                outdated.append(alloc)
        update = group.get("Update") if self.job["Type"] == "service" else None
        rolling = bool(update and update.get("MaxParallel"))
        dep = self.deployment
        dep_failed = dep is not None and dep["Status"] == "failed"
        state = dep["TaskGroups"].get(group["Name"]) if dep else None

        # In-place updates keep the allocation and only move it to the new version.
        for alloc in inplace:
            out.inplace += 1
            if not self.dry_run:
                alloc.job = self.job
                alloc.alloc_modify_index = self.cluster.store.index
                self.cluster.touch_alloc(alloc)
            current.append(alloc)

        failed_current = [a for a in current if a.client_status == "failed"]
        self._reschedule(group, failed_current, dep_failed, out)

        promoted = bool(state and state["Promoted"])
        # Unpromoted canaries run beside the old allocations; they do not count yet.
        canaries = [a for a in current if a.canary and not promoted]
        missing = count - (len(current) - len(canaries)) - len(outdated)
        if missing < 0:  # scale down: drop outdated first, then the newest current ones
            for alloc in sorted(outdated, key=lambda a: -a.index)[:-missing]:
                self._stop(alloc, "alloc not needed due to job update")
                outdated.remove(alloc)
                out.stop += 1
                missing += 1
            for alloc in sorted(current, key=lambda a: (a.client_status != "failed", -a.index))[
                : max(0, -missing)
            ]:
                self._stop(alloc, "alloc not needed due to job update")
                current.remove(alloc)
                out.stop += 1
        want_canaries = (update or {}).get("Canary", 0) if (rolling and outdated) else 0
        needs_deployment = rolling and (missing > 0 or outdated or out.inplace)
        if needs_deployment and not dep_failed:
            dep = self._ensure_deployment(group, want_canaries)
            state = dep["TaskGroups"].get(group["Name"]) if dep else None
        if dep is not None and not self.dry_run and state is not None:
            for alloc in inplace:  # join the new deployment; health is judged again
                alloc.deployment_id = dep["ID"]
                alloc.deployment_status = None
                alloc.forced_health = None
                alloc.health_deadline = self.now + (update or {}).get("HealthyDeadline", 0) / 1e9
                state["PlacedAllocs"] += 1
        taken = {a.index for a in current} | {a.index for a in outdated}
        free = iter(self._free_indexes(taken))
        for _ in range(max(0, missing)):
            index = next(free)
            self._place(group, index, out, dep, previous=self._migrated(group["Name"], index))

        if not outdated:
            out.ignore = len(current) - out.inplace
            return out
        if not rolling:
            for alloc in outdated:
                self._stop(alloc, "alloc is being updated due to job update")
                self._place(group, alloc.index, out, dep, previous=alloc)
                out.destructive += 1
            return out
        if dep_failed:
            out.ignore = len(current) + len(outdated)
            return out
        promoted = bool(state and state["Promoted"])
        if want_canaries and not promoted:
            canaries = [a for a in current if a.canary and dep and a.deployment_id == dep["ID"]]
            used = {a.index for a in current}
            names = iter(self._free_indexes(used))
            for _ in range(max(0, want_canaries - len(canaries))):
                self._place(group, next(names), out, dep, canary=True)
            out.ignore = len(outdated)
            return out
        if len(current) >= count:
            for alloc in outdated:
                self._stop(alloc, "alloc not needed due to job update")
                out.stop += 1
            return out
        # Promoted canaries already stand in for some of the old allocations.
        excess = len(current) + len(outdated) - count
        for alloc in sorted(outdated, key=lambda a: -a.index)[: max(0, excess)]:
            self._stop(alloc, "alloc not needed due to job update")
            outdated.remove(alloc)
            out.stop += 1
        in_flight = [
            a
            for a in current
            if dep and a.deployment_id == dep["ID"] and not _healthy(a) and not _unhealthy(a)
        ]
        budget = (update or {}).get("MaxParallel", 1) - len(in_flight)
        for alloc in sorted(outdated, key=lambda a: a.index):
            if budget <= 0:
                out.ignore += 1
                continue
            self._stop(alloc, "alloc is being updated due to job update")
            self._place(group, alloc.index, out, dep, previous=alloc)
            # Nomad's reconciler reports a replacement as a destructive update, not a
            # placement, whether or not the scheduler then finds room for it.
            out.place -= 1
            out.destructive += 1
            budget -= 1
        return out

    def _reschedule(
        self, group: JSON, failed: list[Alloc], dep_failed: bool, out: GroupOutcome
    ) -> None:
        policy = group.get("ReschedulePolicy") or {}
        for alloc in failed:
            if alloc.next_allocation or dep_failed:
                continue
            if (
                alloc.deployment_id
                and (self.cluster.deployments.get(alloc.deployment_id) or {}).get("Status")
                == "failed"
            ):
                continue
            attempts = len((alloc.reschedule_tracker or {}).get("Events") or [])
            if not policy.get("Unlimited") and attempts >= (policy.get("Attempts") or 0):
                continue
            delay = _reschedule_delay(policy, attempts)
            finished = alloc.finished_at if alloc.finished_at is not None else alloc.created_at
            if self.now < finished + delay / 1e9:
                continue
            self._place(group, alloc.index, out, self.deployment, previous=alloc, reschedule=True)

    # ------------------------------------------------------------------ actions

    def _stop(self, alloc: Alloc, why: str) -> None:
        """Stop (or, in a dry run, pretend to) and give its resources back to this pass."""
        used = self.usage.get(alloc.node["ID"])
        if used is not None and not alloc.terminal:
            used.cpu -= alloc.offer.cpu
            used.memory -= alloc.offer.memory
            for grants in alloc.offer.devices.values():
                for grant in grants:
                    used.gpu_ids.difference_update(grant["DeviceIDs"])
            used.ports.difference_update(p["Value"] for p in alloc.offer.ports)
            used.jobs[f"{alloc.namespace}/{alloc.job_id}"] -= 1
        if not self.dry_run:
            stop_alloc(self.cluster, alloc, why)

    def _place(
        self,
        group: JSON,
        index: int,
        out: GroupOutcome,
        dep: JSON | None,
        canary: bool = False,
        previous: Alloc | None = None,
        reschedule: bool = False,
    ) -> None:
        # Like Nomad's reconciler, DesiredTGUpdates counts every placement it asks for;
        # whether the scheduler finds room is reported apart, in FailedTGAllocs.
        if canary:
            out.canary += 1
        else:
            out.place += 1
        result = place(
            self.job,
            group,
            list(self.cluster.nodes.values()),
            self.usage,
            self.cluster.port_available,
        )
        if isinstance(result, Metric):
            out.failed += 1
            if out.metric is None:
                out.metric = result
            else:
                out.metric.coalesced_failures += 1
            return
        used = self.usage.setdefault(result.node["ID"], NodeUsage())
        used.cpu += result.cpu
        used.memory += result.memory
        for grants in result.devices.values():
            for grant in grants:
                used.gpu_ids.update(grant["DeviceIDs"])
        used.ports.update(p["Value"] for p in result.ports)
        used.jobs[f"{self.job['Namespace']}/{self.job['ID']}"] += 1
        if self.dry_run:
            return
        alloc = create_alloc(
            self.cluster, self.job, group, index, result, self.eval_id, dep, canary
        )
        if previous is not None:
            alloc.previous_allocation = previous.id
            previous.next_allocation = alloc.id
            if reschedule:
                events = list((previous.reschedule_tracker or {}).get("Events") or [])
                events.append(
                    {
                        "RescheduleTime": self.cluster.now_ns(),
                        "PrevAllocID": previous.id,
                        "PrevNodeID": previous.node["ID"],
                        "Delay": 0,
                    }
                )
                alloc.reschedule_tracker = {"Events": events, "LastReschedule": "ok"}
            self.cluster.touch_alloc(previous)
        if dep is not None:
            state = dep["TaskGroups"].get(group["Name"])
            if state is not None:
                state["PlacedAllocs"] += 1
                if canary:
                    state["PlacedCanaries"] = (state["PlacedCanaries"] or []) + [alloc.id]
                self.cluster.touch_deployment(dep)


def _reschedule_delay(policy: JSON, attempts: int) -> int:
    delay = policy.get("Delay") or 0
    fn = policy.get("DelayFunction") or "constant"
    max_delay = policy.get("MaxDelay") or 0
    if fn == "exponential":
        delay = delay * (2**attempts)
    elif fn == "fibonacci":
        a, b = delay, delay
        for _ in range(attempts):
            a, b = b, a + b
        delay = a
    return min(delay, max_delay) if max_delay else delay


def create_alloc(
    cluster: Cluster,
    job: JSON,
    group: JSON,
    index: int,
    offer: Offer,
    eval_id: str,
    dep: JSON | None,
    canary: bool,
) -> Alloc:
    """Make a pending allocation on the offered node and announce it."""
    store_index = cluster.store.bump("allocs", "job_summary")
    now_ns = cluster.now_ns()
    now = cluster.store.clock.now()
    alloc = Alloc(
        id=new_id(),
        namespace=job["Namespace"],
        eval_id=eval_id,
        name=f"{job['ID']}.{group['Name']}[{index}]",
        index=index,
        node=offer.node,
        job=job,
        task_group=group["Name"],
        offer=offer,
        create_index=store_index,
        create_time=now_ns,
        created_at=now,
        behaviour=cluster.behaviour.for_job(job),
        deployment_id=dep["ID"] if dep else None,
        canary=canary,
        modify_index=store_index,
        alloc_modify_index=store_index,
        modify_time=now_ns,
        next_at=now + cluster.start_delay(group),
    )
    if canary:
        alloc.deployment_status = {
            "Healthy": None,
            "Timestamp": None,
            "Canary": True,
            "ModifyIndex": store_index,
        }
    update = group.get("Update") or {}
    alloc.health_deadline = now + (update.get("HealthyDeadline") or 0) / 1e9
    for task in group["Tasks"]:
        alloc.task_states[task["Name"]] = {
            "State": "pending",
            "Failed": False,
            "Restarts": 0,
            "LastRestart": None,
            "StartedAt": None,
            "FinishedAt": None,
            "Events": [task_event("Received", "Task received by client", now_ns)],
            "TaskHandle": None,
        }
    cluster.allocs[alloc.id] = alloc
    cluster.emit(
        "Allocation",
        "AllocationCreated",
        alloc.id,
        alloc.namespace,
        {"Allocation": alloc.to_api(with_job=False)},
        [alloc.job_id],
    )
    return alloc


def stop_alloc(cluster: Cluster, alloc: Alloc, why: str) -> None:
    """Desired stop; the simulated client kills the tasks at once."""
    if alloc.desired_status != "run" and alloc.terminal:
        return
    now_ns = cluster.now_ns()
    alloc.desired_status = "stop"
    alloc.desired_description = why
    if not alloc.terminal:
        alive = [name for name, state in alloc.task_states.items() if state["State"] != "dead"]
        for name in alive:
            kill_timeout = next(
                (t.get("KillTimeout") or 0 for t in alloc.group()["Tasks"] if t["Name"] == name), 0
            )
            alloc.task_states[name]["Events"].append(
                task_event(
                    "Killing",
                    f"Sent interrupt. Waiting {kill_timeout // 1_000_000_000}s "
                    "before force killing",
                    now_ns,
                    {"kill_timeout": kill_timeout},
                    KillTimeout=kill_timeout,
                )
            )
        # The engine reports the allocation complete at once (its resources are free);
        # a real driver gives each process its kill_timeout and records "Killed" later.
        dead_now = cluster.on_alloc_stop(alloc)
        for name in alive:
            state = alloc.task_states[name]
            if dead_now:
                state["Events"].append(task_event("Killed", "Task successfully killed", now_ns))
            state["State"] = "dead"
            state["FinishedAt"] = now_ns
        alloc.client_status = "complete"
        alloc.client_description = "All tasks have completed"
        alloc.phase = "dead"
    cluster.touch_alloc(alloc, "AllocationUpdateDesiredStatus")
