"""Garbage collection of finished work, so a long-lived ``mlctl local`` stays small.

Nomad's servers forget terminal evaluations and deployments after an hour
(``eval_gc_threshold``, ``deployment_gc_threshold``) and dead jobs after four hours
(``job_gc_threshold``); clients delete the directories of collected allocations.  The
same thresholds apply here, with the same guard: nothing a live allocation or the
latest rollout of a job still refers to is collected.  The test simulator does not
collect (tests read history back).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .cluster import Cluster

HOUR = 3600.0


@dataclass(frozen=True)
class Thresholds:
    evals: float = HOUR
    deployments: float = HOUR
    jobs: float = 4 * HOUR


def collect(
    cluster: Cluster,
    thresholds: Thresholds,
    alloc_dir: Callable[[str], Path] | None = None,
) -> int:
    """Drop what is old enough; returns how many objects went (callers hold the lock)."""
    now_ns = cluster.now_ns()
    removed = _dead_jobs(cluster, now_ns - int(thresholds.jobs * 1e9))
    removed += _allocs(cluster, now_ns - int(thresholds.evals * 1e9), alloc_dir)
    removed += _evals(cluster, now_ns - int(thresholds.evals * 1e9))
    removed += _deployments(cluster, now_ns - int(thresholds.deployments * 1e9))
    if removed:
        cluster.store.bump("jobs", "job_versions", "job_summary", "evals", "allocs", "deployment")
    return removed


def _dead_jobs(cluster: Cluster, before_ns: int) -> int:
    removed = 0
    for key, job in list(cluster.jobs.items()):
        if job["Status"] != "dead" or job.get("SubmitTime", 0) > before_ns:
            continue
        allocs = cluster.job_allocs(key)
        if any(a.modify_time > before_ns or not a.terminal for a in allocs):
            continue
        del cluster.jobs[key]
        cluster.versions.pop(key, None)
        cluster.scaling_events.pop(key, None)
        removed += 1
    return removed


def _allocs(cluster: Cluster, before_ns: int, alloc_dir: Callable[[str], Path] | None) -> int:
    removed = 0
    for alloc_id, alloc in list(cluster.allocs.items()):
        if not alloc.terminal or alloc.modify_time > before_ns or alloc.handles:
            continue
        job = cluster.jobs.get((alloc.namespace, alloc.job_id))
        replaced = alloc.next_allocation or alloc.desired_status != "run"
        if job is not None and not replaced:
            continue  # the latest word on this slot of a live job (a batch job's result)
        del cluster.allocs[alloc_id]
        if alloc_dir is not None:
            shutil.rmtree(alloc_dir(alloc_id), ignore_errors=True)
        removed += 1
    return removed


def _evals(cluster: Cluster, before_ns: int) -> int:
    referenced = {a.eval_id for a in cluster.allocs.values()}
    removed = 0
    for eval_id, ev in list(cluster.evals.items()):
        if ev["Status"] in ("pending", "blocked") or ev["ModifyTime"] > before_ns:
            continue
        if eval_id in referenced:
            continue
        del cluster.evals[eval_id]
        removed += 1
    return removed


def _deployments(cluster: Cluster, before_ns: int) -> int:
    latest: dict[tuple[str, str], dict[str, object]] = {}
    for dep in cluster.deployments.values():
        key = (dep["Namespace"], dep["JobID"])
        if key not in latest or dep["CreateIndex"] > latest[key]["CreateIndex"]:
            latest[key] = dep
    keep = {d["ID"] for d in latest.values() if (d["Namespace"], d["JobID"]) in cluster.jobs}
    keep |= {a.deployment_id for a in cluster.allocs.values() if a.deployment_id}
    removed = 0
    for dep_id, dep in list(cluster.deployments.items()):
        if dep_id in keep or dep["Status"] in ("running", "paused", "pending"):
            continue
        if dep["ModifyTime"] > before_ns:
            continue
        del cluster.deployments[dep_id]
        removed += 1
    return removed
