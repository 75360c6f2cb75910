"""A training run from the CLI's side: check → upload → plan → register → dispatch → watch →
package the best.

Nothing is uploaded or registered until the dataset and the request check out; nothing
is registered unless Nomad's plan can place a trial. Each candidate is one dispatch of
the run's parameterized job. Trials enforce their own hard limit; the watcher enforces
it too (stopping a trial that outlives it by more than the start-up grace), so a run
ends even if a node dies.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlctl import __version__
from mlctl.artifacts import ArtifactStore, sha256_file, store_from_settings
from mlctl.deploy.pipeline import deployed_by, plan, refuse_unplaceable, register
from mlctl.envs.ops import raw_exec_python
from mlctl.errors import InvalidInput, MlctlError, NotFound, PlacementFailed
from mlctl.explain import explain_failures
from mlctl.nomad.client import NomadClient
from mlctl.settings import Settings
from mlctl.train import history
from mlctl.train import leaderboard as lb
from mlctl.train.bundle import bundle_name, write_bundle
from mlctl.train.dataset import check_frame, dataset_format, read_frame, require_extra
from mlctl.train.jobspec import TrainJob, render_train_job, train_job_id
from mlctl.train.plan import RunPlan, Task, hard_limit, resolve_candidates, resolve_metric

#: The docker driver's image (docker/Dockerfile.train: mlctl with the train extra).
DEFAULT_TRAIN_IMAGE = f"mlctl/train:{__version__}"
#: Seconds a trial may take beyond its hard limit to be scheduled and start.
START_GRACE = 60.0
POLL_SECONDS = 1.0
Clock = Callable[[], float]


@dataclass(frozen=True)
class TrainRequest:
    dataset: Path
    target: str
    task: Task | None = None
    metric: str | None = None
    candidates: tuple[str, ...] = ("lgbm", "rf", "extra_tree", "lr")
    budget: int = 300
    gpus: int = 0
    seed: int = 0
    max_iter: int | None = None
    name: str | None = None
    cpu: int = 1000
    memory: int = 2048
    driver: str = "docker"
    image: str = ""


@dataclass
class Run:
    run_id: str
    job_id: str
    plan: RunPlan
    target: str
    dataset_name: str
    dataset_sha256: str
    owner: str
    started: str
    trials: dict[str, str] = field(default_factory=dict)
    """candidate -> dispatched job ID"""
    dispatched_at: dict[str, float] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "user": self.owner,
            "started": self.started,
            "status": status,
            "dataset": self.dataset_name,
            "dataset_sha256": self.dataset_sha256,
            "target": self.target,
            "task": self.plan.task.value,
            "metric": self.plan.metric,
            "candidates": self.plan.candidates,
            "budget": str(self.plan.budget),
            "seed": str(self.plan.seed),
            "job": self.job_id,
            "trials": self.trials,
            **extra,
        }

    def board(self) -> list[dict[str, Any]]:
        rows = [self.rows.get(c) or lb.row(c, lb.PENDING, None) for c in self.plan.candidates]
        return lb.ranked(rows, self.plan.task, self.plan.metric)


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def check_request(request: TrainRequest) -> tuple[RunPlan, str]:
    """The run plan and the dataset's sha256; InvalidInput lists every dataset problem."""
    require_extra()
    dataset_format(request.dataset)
    frame = read_frame(request.dataset)
    task, problems = check_frame(frame, request.target, request.task, request.dataset.name)
    if problems or task is None:
        raise InvalidInput(
            "; ".join(str(p) for p in problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
            hint="fix the dataset or the flags",
        )
    run_plan = RunPlan(
        task=task,
        metric=resolve_metric(task, request.metric),
        candidates=resolve_candidates(task, list(request.candidates)),
        budget=request.budget,
        seed=request.seed,
        gpus=request.gpus,
        max_iter=request.max_iter,
    )
    return run_plan, sha256_file(request.dataset)


def start(
    settings: Settings, client: NomadClient, request: TrainRequest, note: Callable[[str], None]
) -> Run:
    """Upload the dataset, register the run's job, dispatch every candidate."""
    run_plan, digest = check_request(request)
    store = store_from_settings(settings)
    suffix = request.dataset.suffix.lower()
    key = f"datasets/{digest}{suffix}"
    run_id = new_run_id()
    job = TrainJob(
        run_id=run_id,
        plan=run_plan,
        target=request.target,
        dataset_url=store.object_url(key),
        dataset_sha256=digest,
        dataset_suffix=suffix,
        namespace=settings.nomad_namespace,
        datacenters=settings.datacenters,
        owner=deployed_by(settings),
        store_url=str(settings.artifact_store),
        store_read_url=settings.artifact_read_url,
        store_auth=bool(settings.artifact_store_user),
        driver=request.driver,
        image=request.image or DEFAULT_TRAIN_IMAGE,
        python=raw_exec_python(settings),
        node_pool=settings.node_pool,
        cpu=request.cpu,
        memory=request.memory,
    )
    planned = plan(client, render_train_job(job))
    refuse_unplaceable(planned)
    if store.get_object(key) is None:
        note(f"uploading {request.dataset.name} ({request.dataset.stat().st_size} bytes)")
        store.put_object(key, request.dataset)
    if job.store_auth:
        client.variables.write(
            f"nomad/jobs/{planned.job_id}",
            {
                "store_user": str(settings.artifact_store_user),
                "store_password": str(settings.artifact_store_password),
            },
        )
    register(client, planned)
    run = Run(
        run_id=run_id,
        job_id=train_job_id(run_id),
        plan=run_plan,
        target=request.target,
        dataset_name=request.dataset.name,
        dataset_sha256=digest,
        owner=job.owner,
        started=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    evaluations = []
    for candidate in run_plan.candidates:
        meta = {"candidate": candidate, "budget": str(run_plan.budget), "seed": str(run_plan.seed)}
        response = client.jobs.dispatch(run.job_id, meta)
        run.trials[candidate] = str(response["DispatchedJobID"])
        run.dispatched_at[candidate] = time.monotonic()
        run.rows[candidate] = lb.row(candidate, lb.PENDING, None)
        evaluations.append(str(response.get("EvalID") or ""))
    history.write(client, run_id, run.record("running"))
    _refuse_unplaceable_trials(client, run, evaluations, planned.job)
    return run


def _refuse_unplaceable_trials(
    client: NomadClient, run: Run, evaluations: list[str], job: Any
) -> None:
    """A parameterized job places nothing when registered, so Nomad's plan cannot tell
    whether a trial fits; the dispatches' evaluations can. When one cannot be placed the
    run stops at once (its trials would wait forever) with the reasons in plain words."""
    for eval_id in filter(None, evaluations):
        evaluation, index = client.evaluations.read(eval_id)
        if evaluation.get("Status") == "pending":
            evaluation, _ = client.evaluations.read(eval_id, index=index, wait=5.0)
        failures = explain_failures(evaluation.get("FailedTGAllocs"), job.get("TaskGroups"))
        if failures:
            # Unplaceable trials never wrote a result, so no store is needed to stop them.
            cancel(client, None, run.run_id, status="unplaceable")
            raise PlacementFailed(
                f"{run.job_id}: trials cannot be placed: {failures[0].text}",
                hint=failures[0].hint or None,
            )


def read_result(store: ArtifactStore, run_id: str, candidate: str) -> dict[str, Any] | None:
    raw = store.get_object(f"train/{run_id}/{candidate}/result.json")
    return None if raw is None else dict(json.loads(raw))


def _child_state(client: NomadClient, job_id: str) -> str:
    """pending / running / dead, from the dispatched job's allocations."""
    try:
        allocs, _ = client.jobs.allocations(job_id)
    except NotFound:
        return "dead"
    states = {a.get("ClientStatus") for a in allocs}
    if "running" in states:
        return lb.RUNNING
    if states and states <= {"complete", "failed", "lost"}:
        return "dead"
    return lb.PENDING


def poll(
    client: NomadClient, store: ArtifactStore, run: Run, clock: Clock = time.monotonic
) -> bool:
    """Update every unfinished trial once; True when all are finished."""
    limit = hard_limit(run.plan.budget) + START_GRACE
    for candidate, child in run.trials.items():
        if run.rows[candidate]["status"] in lb.FINISHED:
            continue
        result = read_result(store, run.run_id, candidate)
        if result is not None:
            run.rows[candidate] = lb.row(candidate, result["status"], result)
            continue
        state = _child_state(client, child)
        if state == "dead":
            # The trial writes its result before exiting; no result means it died.
            run.rows[candidate] = lb.row(
                candidate,
                lb.FAILED,
                {"status": lb.FAILED, "error": "the trial ended without a result"},
            )
        elif clock() - run.dispatched_at.get(candidate, clock()) > limit:
            client.jobs.stop(child)
            run.rows[candidate] = lb.row(
                candidate,
                lb.TIMED_OUT,
                {"status": lb.TIMED_OUT, "error": "stopped at the hard limit"},
            )
        else:
            run.rows[candidate] = {**run.rows[candidate], "status": state}
    return all(r["status"] in lb.FINISHED for r in run.rows.values())


def watch(
    client: NomadClient,
    store: ArtifactStore,
    run: Run,
    on_update: Callable[[list[dict[str, Any]]], None],
    clock: Clock = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Poll until every trial has finished; ``on_update`` sees the board after each poll."""
    while True:
        done = poll(client, store, run, clock)
        on_update(run.board())
        if done:
            return run.board()
        sleep(POLL_SECONDS)


def finish(
    client: NomadClient,
    store: ArtifactStore,
    run: Run,
    out_dir: Path,
    name: str | None,
) -> dict[str, Any]:
    """Package the best trial and record the run; the summary for the user."""
    board = run.board()
    winner = lb.best(board, run.plan.task, run.plan.metric)
    summary: dict[str, Any] = {"run": run.run_id, "leaderboard": board, "best": None}
    if winner is None:
        history.write(client, run.run_id, run.record("failed"))
        return summary
    result = read_result(store, run.run_id, winner["candidate"])
    if result is None or "model_key" not in result:
        raise MlctlError(f"the result of {winner['candidate']} disappeared from the store")
    model = store.get_object(result["model_key"])
    if model is None:
        raise NotFound(f"the model of {winner['candidate']} is missing from the store")
    label = bundle_name(name or Path(run.dataset_name).stem)
    target = out_dir / f"{label}-{run.run_id}"
    write_bundle(target, result, model, name=label, version=run.run_id, dataset=run.dataset_name)
    summary.update(best=winner, bundle=str(target), deploy=f"mlctl deploy {target}")
    history.write(
        client,
        run.run_id,
        run.record(
            "succeeded",
            best=winner["candidate"],
            best_cv_score=str(winner["cv_score"]),
            best_holdout_score=str(winner["holdout_score"]),
            bundle=str(target),
            finished=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
    )
    return summary


def status(client: NomadClient, store: ArtifactStore, run_id: str) -> dict[str, Any]:
    """The record and a fresh leaderboard of a run (without waiting)."""
    record = history.read(client, run_id)
    if record is None:
        raise NotFound(
            f"no training run {run_id} in namespace {client.namespace}",
            hint="mlctl train list shows the runs",
        )
    task, metric = Task(record["task"]), str(record["metric"])
    rows = []
    for candidate, child in (record.get("trials") or {}).items():
        result = read_result(store, run_id, candidate)
        state = result["status"] if result else _child_state(client, child)
        if state == "dead":
            state = lb.FAILED if record.get("status") != "cancelled" else lb.CANCELLED
        rows.append(lb.row(candidate, state, result))
    return {**record, "leaderboard": lb.ranked(rows, task, metric)}


def cancel(
    client: NomadClient, store: ArtifactStore | None, run_id: str, status: str = "cancelled"
) -> dict[str, Any]:
    """Stop the unfinished trials and the run's job; the record says ``status``."""
    record = history.read(client, run_id)
    if record is None:
        raise NotFound(f"no training run {run_id}", hint="mlctl train list shows the runs")
    stopped = []
    for candidate, child in (record.get("trials") or {}).items():
        finished = store is not None and read_result(store, run_id, candidate) is not None
        if not finished and _child_state(client, child) != "dead":
            client.jobs.stop(child)
            stopped.append(candidate)
    with contextlib.suppress(NotFound):
        client.jobs.stop(str(record["job"]))
    record["status"] = status
    history.write(client, run_id, record)
    return {"run": run_id, "stopped": stopped}
