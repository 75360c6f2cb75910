"""Jobs: parse, plan, register, read, versions, revert, stop, scale, and a job's children."""

from __future__ import annotations

from typing import Any, cast

from mlctl.errors import Conflict, InvalidInput, Unreachable
from mlctl.nomad.transport import Transport
from mlctl.nomad.types import (
    Allocation,
    Deployment,
    Evaluation,
    Job,
    JobStub,
    JobVersions,
    PlanResponse,
    WriteResponse,
)


class Jobs:
    """``/v1/jobs`` and ``/v1/job/:id``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list_jobs(self, prefix: str | None = None) -> list[JobStub]:
        """Jobs in the namespace, with their ``Meta`` (mlctl marks its models there)."""
        api = self._t.api
        return cast(
            list[JobStub], self._t.call(lambda: api.jobs.get_jobs(prefix=prefix, meta=True))
        )

    def read(self, job_id: str, namespace: str | None = None) -> Job:
        """The job; ``namespace`` reads from another namespace than the client's."""
        params = {"namespace": namespace} if namespace else None
        return cast(Job, self._t.json("get", "job", job_id, params=params))

    def versions(self, job_id: str) -> list[Job]:
        """Every retained version, newest first."""
        data = cast(JobVersions, self._t.json("get", "job", job_id, "versions"))
        return list(data.get("Versions") or [])

    def parse(self, hcl: str) -> Job:
        """``POST /v1/jobs/parse``: HCL to the API's JSON job, canonicalised by Nomad."""
        return cast(
            Job,
            self._t.json("post", "jobs", "parse", json={"JobHCL": hcl, "Canonicalize": True}),
        )

    def plan(self, job: Job, diff: bool = True) -> PlanResponse:
        """A scheduler dry run: the diff and whether every group can be placed."""
        api = self._t.api
        job_id = job["ID"]
        return cast(
            PlanResponse, self._t.call(lambda: api.job.plan_job(job_id, {"Job": job}, diff=diff))
        )

    def register(self, job: Job, enforce_index: int | None = None) -> WriteResponse:
        """Register (create or update) ``job``.

        ``enforce_index`` is check-and-set: the job is written only if its
        ``JobModifyIndex`` is still the one the plan saw (0: only if it is new), so a
        concurrent deploy is refused instead of silently overwritten.
        """
        body: dict[str, Any] = {"Job": job}
        if enforce_index is not None:
            body.update(EnforceIndex=True, JobModifyIndex=enforce_index)
        try:
            return cast(WriteResponse, self._t.json("post", "job", job["ID"], json=body))
        except (InvalidInput, Unreachable) as error:
            # Nomad answers a failed check-and-set with 400 or 500 depending on version.
            if enforce_index is not None and "modify index" in error.message.lower():
                raise Conflict(
                    f"job {job['ID']} changed since it was planned",
                    hint="someone else deployed meanwhile; plan and deploy again",
                ) from error
            raise

    def stop(self, job_id: str, purge: bool = False) -> WriteResponse:
        api = self._t.api
        return cast(
            WriteResponse,
            self._t.call(lambda: api.job.deregister_job(job_id, purge=True if purge else None)),
        )

    def revert(self, job_id: str, version: int, prior_version: int | None = None) -> WriteResponse:
        """Make ``version`` current again (as a new version), optionally check-and-set."""
        body: dict[str, Any] = {"JobID": job_id, "JobVersion": version}
        if prior_version is not None:
            body["EnforcePriorVersion"] = prior_version
        return cast(WriteResponse, self._t.json("post", "job", job_id, "revert", json=body))

    def scale(
        self, job_id: str, group: str, count: int, message: str, namespace: str | None = None
    ) -> WriteResponse:
        """``POST /v1/job/:id/scale`` (python-nomad lacks it). Nomad refuses it (400)
        while a deployment runs; that becomes a Conflict naming the way out.
        ``message`` is recorded by Nomad with the scaling event."""
        body = {"Count": count, "Target": {"Group": group}, "Message": message}
        params = {"namespace": namespace} if namespace else None
        try:
            return cast(
                WriteResponse,
                self._t.json("post", "job", job_id, "scale", json=body, params=params),
            )
        except InvalidInput as error:
            if "deployment" in error.message.lower():
                raise Conflict(
                    f"cannot scale {job_id} while a deployment is in progress",
                    hint="wait for it (mlctl status), promote it (mlctl promote) or roll back",
                ) from error
            raise

    def allocations(
        self, job_id: str, index: int = 0, wait: float = 30.0, namespace: str | None = None
    ) -> tuple[list[Allocation], int]:
        """The job's allocations; a blocking query when ``index`` is given."""
        params = {"namespace": namespace} if namespace else None
        data, new_index = self._t.blocking(
            "job", job_id, "allocations", index=index, wait=wait, params=params
        )
        return cast(list[Allocation], data or []), new_index

    def latest_deployment(
        self, job_id: str, index: int = 0, wait: float = 30.0
    ) -> tuple[Deployment | None, int]:
        """The most recent deployment (``None`` when there is none); blocking with ``index``."""
        data, new_index = self._t.blocking("job", job_id, "deployment", index=index, wait=wait)
        return cast(Deployment | None, data), new_index

    def evaluations(self, job_id: str) -> list[Evaluation]:
        """The job's evaluations (blocked ones carry why allocations wait for capacity)."""
        return cast(list[Evaluation], self._t.json("get", "job", job_id, "evaluations") or [])

    def deployments(self, job_id: str) -> list[Deployment]:
        return cast(list[Deployment], self._t.json("get", "job", job_id, "deployments") or [])

    def dispatch(self, job_id: str, meta: dict[str, str]) -> dict[str, Any]:
        """``POST /v1/job/:id/dispatch``: a child of a parameterized job with ``meta``
        (its ``DispatchedJobID`` and ``EvalID``)."""
        body = {"JobID": job_id, "Meta": meta}
        return cast(dict[str, Any], self._t.json("post", "job", job_id, "dispatch", json=body))
