"""The rollout watcher with an in-memory client: outcomes, failures, timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlctl.deploy.outcome import Outcome
from mlctl.deploy.watch import follow


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Script:
    """Answers blocking reads from lists; each read advances the fake clock."""

    clock: FakeClock
    latest: list[dict[str, Any] | None]
    states: list[dict[str, Any]]
    allocs: list[dict[str, Any]] = field(default_factory=list)
    reads: int = 0
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    job: dict[str, Any] = field(
        default_factory=lambda: {"TaskGroups": [{"Name": "model", "Count": 3}]}
    )

    def next(self, queue: list[Any]) -> Any:
        self.clock.now += 1
        return queue.pop(0) if len(queue) > 1 else queue[0]


class FakeJobs:
    def __init__(self, script: Script) -> None:
        self.script = script

    def latest_deployment(self, job_id: str, index: int = 0, wait: float = 30):
        return self.script.next(self.script.latest), index + 1

    def evaluations(self, job_id: str):
        return self.script.evaluations

    def read(self, job_id: str):
        return self.script.job


class FakeDeployments:
    def __init__(self, script: Script) -> None:
        self.script = script

    def read(self, deployment_id: str, index: int = 0, wait: float = 30):
        self.script.reads += 1
        return self.script.next(self.script.states), index + 1

    def allocations(self, deployment_id: str):
        return self.script.allocs


class FakeAllocations:
    def __init__(self, script: Script) -> None:
        self.script = script

    def read(self, alloc_id: str):
        return next(a for a in self.script.allocs if a["ID"] == alloc_id)


@dataclass
class FakeNomad:
    jobs: FakeJobs
    deployments: FakeDeployments
    allocations: FakeAllocations
    script: Script

    @property
    def reads(self) -> int:
        return self.script.reads


def dep(status: str, description: str = "", version: int = 1, healthy: int = 0):
    return {
        "ID": "dep-1",
        "JobVersion": version,
        "Status": status,
        "StatusDescription": description,
        "TaskGroups": {"model": {"DesiredTotal": 1, "PlacedAllocs": 1, "HealthyAllocs": healthy}},
    }


def fake(latest, states, allocs=()):
    clock = FakeClock()
    script = Script(clock, list(latest), list(states), list(allocs))
    nomad = FakeNomad(FakeJobs(script), FakeDeployments(script), FakeAllocations(script), script)
    return nomad, clock


def test_waits_past_the_previous_versions_deployment_then_succeeds():
    nomad, clock = fake(
        [dep("successful", version=0), dep("running")],
        [dep("running"), dep("successful", "Deployment completed successfully", healthy=1)],
    )
    seen: list[str] = []
    result = follow(nomad, "mlctl-iris", 1, 60, lambda d: seen.append(d["Status"]), clock)
    assert result.outcome is Outcome.SUCCESSFUL
    assert seen == ["running", "running", "successful"]
    assert result.to_dict()["groups"][0]["healthy"] == 1


def test_reverted_deployment_reads_the_failing_allocations():
    failed_alloc = {
        "ID": "alloc-1",
        "NodeName": "gpu-1",
        "ClientStatus": "failed",
        "TaskStates": {
            "server": {"Failed": True, "Events": [{"Type": "Terminated", "ExitCode": 2}]}
        },
    }
    nomad, clock = fake(
        [dep("running")],
        [dep("failed", "Failed due to unhealthy allocations - rolling back to job version 0")],
        [failed_alloc, {"ID": "alloc-2", "ClientStatus": "running"}],
    )
    result = follow(nomad, "mlctl-iris", 1, 60, None, clock)
    assert result.outcome is Outcome.REVERTED and result.reverted_to == 0
    assert [f.text for f in result.failures] == [
        "alloc alloc-1 on gpu-1 (task server): exited with code 2"
    ]


def test_times_out_while_rolling_out():
    nomad, clock = fake([dep("running")], [dep("running")])
    result = follow(nomad, "mlctl-iris", 1, 5, None, clock)
    assert result.outcome is Outcome.TIMED_OUT
    assert result.deployment is not None and nomad.reads >= 3


def test_times_out_when_no_deployment_for_the_version_appears():
    nomad, clock = fake([dep("successful", version=0)], [dep("running")])
    result = follow(nomad, "mlctl-iris", 1, 3, None, clock)
    assert result.outcome is Outcome.TIMED_OUT and result.deployment is None


GPU_METRIC = {
    "NodesEvaluated": 3,
    "NodesFiltered": 1,
    "ConstraintFiltered": {"missing devices": 1},
    "NodesExhausted": 2,
    "DimensionExhausted": {"devices: no devices match request": 2},
    "CoalescedFailures": 0,
}


def test_a_timed_out_rollout_says_why_allocations_are_blocked():
    nomad, clock = fake([dep("running")], [dep("running")])
    nomad.script.evaluations = [
        {
            "ID": "e1",
            "Status": "complete",
            "CreateIndex": 10,
            "FailedTGAllocs": {"model": GPU_METRIC},
        },
        {
            "ID": "e2",
            "Status": "blocked",
            "CreateIndex": 11,
            "FailedTGAllocs": {"model": GPU_METRIC},
        },
    ]
    result = follow(nomad, "mlctl-iris", 1, 5, None, clock)
    assert result.outcome is Outcome.TIMED_OUT
    (unplaced,) = result.unplaced
    assert unplaced.text.startswith("group model: 1 of 3 allocations cannot be placed: ")
    assert result.to_dict()["placement_failures"] == [unplaced.text]


def test_old_placement_failures_without_a_blocked_evaluation_are_not_reported():
    nomad, clock = fake([dep("running")], [dep("running")])
    nomad.script.evaluations = [
        {
            "ID": "e1",
            "Status": "complete",
            "CreateIndex": 10,
            "FailedTGAllocs": {"model": GPU_METRIC},
        },
    ]
    assert follow(nomad, "mlctl-iris", 1, 5, None, clock).unplaced == []
