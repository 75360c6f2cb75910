"""Follow a registration to its outcome with blocking queries, never busy polling.

Nomad owns the rollout (placement, health checks, canaries, auto-revert); mlctl only
waits on ``/v1/job/:id/deployment`` until the deployment of the registered version
appears, then on ``/v1/deployment/:id`` until it settles or the timeout passes, and
on failure reads the failing allocations' task events to say why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlctl.deploy.events import AllocFailure, describe_failure, is_failing
from mlctl.deploy.outcome import Outcome, progress_rows, rollback_version, settled
from mlctl.errors import NotFound
from mlctl.explain import Explanation, explain_failures
from mlctl.nomad.client import NomadClient
from mlctl.nomad.types import Deployment

#: Longest single blocking query; short enough to notice the deadline promptly.
MAX_BLOCK_SECONDS = 10.0
#: Pause between reads when the server returned no X-Nomad-Index (cannot block).
NON_BLOCKING_PAUSE = 0.25
#: Failing allocations whose events are read to explain a failure.
MAX_EXPLAINED_ALLOCS = 5

OnProgress = Callable[[Deployment], None]
Clock = Callable[[], float]


@dataclass
class WatchResult:
    outcome: Outcome
    job_id: str
    job_version: int
    deployment: Deployment | None = None
    failures: list[AllocFailure] = field(default_factory=list)
    reverted_to: int | None = None
    unplaced: list[Explanation] = field(default_factory=list)
    """Why allocations still wait for a node (the blocked evaluation's placement failures)."""

    def to_dict(self) -> dict[str, Any]:
        deployment = self.deployment or {}
        return {
            "outcome": str(self.outcome),
            "job_id": self.job_id,
            "job_version": self.job_version,
            "deployment_id": deployment.get("ID"),
            "deployment_status": deployment.get("Status"),
            "status_description": deployment.get("StatusDescription"),
            "groups": progress_rows(deployment) if deployment else [],
            "reverted_to_version": self.reverted_to,
            "failures": [f.text for f in self.failures],
            "placement_failures": [e.text for e in self.unplaced],
        }


def _remaining(deadline: float, clock: Clock) -> float:
    return deadline - clock()


def wait_for_deployment(
    client: NomadClient, job_id: str, version: int, deadline: float, clock: Clock
) -> Deployment | None:
    """The deployment Nomad creates for ``version`` of the job, or None at the deadline."""
    index = 0
    while True:
        deployment, index = client.jobs.latest_deployment(
            job_id, index=index, wait=max(0.1, min(_remaining(deadline, clock), MAX_BLOCK_SECONDS))
        )
        if deployment and int(deployment.get("JobVersion", -1)) >= version:
            return deployment
        if _remaining(deadline, clock) <= 0:
            return None
        if index == 0:
            time.sleep(NON_BLOCKING_PAUSE)


def explain_allocations(client: NomadClient, deployment_id: str) -> list[AllocFailure]:
    """Task events of the deployment's failing allocations, in plain words."""
    failures: list[AllocFailure] = []
    stubs = [a for a in client.deployments.allocations(deployment_id) if is_failing(a)]
    for stub in stubs[:MAX_EXPLAINED_ALLOCS]:
        try:
            failures.extend(describe_failure(client.allocations.read(stub.get("ID", ""))))
        except NotFound:
            continue  # garbage-collected meanwhile; the others still explain it
    return failures


def follow(
    client: NomadClient,
    job_id: str,
    version: int,
    timeout: float,
    on_progress: OnProgress | None = None,
    clock: Clock = time.monotonic,
) -> WatchResult:
    """Wait until the rollout of ``version`` succeeds, fails, needs promotion, or times out."""
    deadline = clock() + timeout
    deployment = wait_for_deployment(client, job_id, version, deadline, clock)
    if deployment is None:
        return WatchResult(Outcome.TIMED_OUT, job_id, version)
    index = 0
    while True:
        if on_progress:
            on_progress(deployment)
        outcome = settled(deployment)
        if outcome is not None:
            break
        remaining = _remaining(deadline, clock)
        if remaining <= 0:
            outcome = Outcome.TIMED_OUT
            break
        deployment, index = client.deployments.read(
            deployment["ID"], index=index, wait=max(0.1, min(remaining, MAX_BLOCK_SECONDS))
        )
        if index == 0:
            time.sleep(NON_BLOCKING_PAUSE)
    result = WatchResult(outcome, job_id, version, deployment)
    if outcome in {Outcome.FAILED, Outcome.REVERTED}:
        result.failures = explain_allocations(client, deployment["ID"])
        result.reverted_to = rollback_version(deployment)
    if outcome in {Outcome.FAILED, Outcome.REVERTED, Outcome.TIMED_OUT}:
        result.unplaced = explain_blocked(client, job_id)
    return result


def explain_blocked(client: NomadClient, job_id: str) -> list[Explanation]:
    """Why allocations of the job wait for capacity, as ``nomad job status`` tells it.

    While the scheduler cannot place everything, the job has a ``blocked`` evaluation;
    the newest evaluation carrying ``FailedTGAllocs`` says why (the blocked one itself,
    or the evaluation that created it).
    """
    try:
        evaluations = client.jobs.evaluations(job_id)
    except NotFound:
        return []
    if not any(e.get("Status") == "blocked" for e in evaluations):
        return []
    failed = [e for e in evaluations if e.get("FailedTGAllocs")]
    if not failed:
        return []
    latest = max(failed, key=lambda e: int(e.get("CreateIndex") or 0))
    try:
        groups = client.jobs.read(job_id).get("TaskGroups")
    except NotFound:
        groups = None
    return explain_failures(latest.get("FailedTGAllocs"), groups)
