"""Routes under /v1/jobs, /v1/job/:id and /v1/evaluation(s)."""

from __future__ import annotations

from typing import Any

from . import jobops
from .guards import ns
from .hclparse import ParseError, parse_job
from .http import Reply, Request, Router
from .jobops import ApiError
from .jobspec import canonicalize

JSON = dict[str, Any]
JOB_TABLES = ("jobs", "job_versions", "job_summary")


def _job(req: Request) -> JSON:
    job = req.sim.cluster.job(req.namespace, req.groups["id"])
    if job is None:
        raise ApiError(404, "job not found")
    return job


def job_stub(job: JSON, summary: JSON) -> JSON:
    return {
        "ID": job["ID"],
        "ParentID": job.get("ParentID") or "",
        "Name": job["Name"],
        "Namespace": job["Namespace"],
        "Datacenters": job["Datacenters"],
        "NodePool": job["NodePool"],
        "Multiregion": None,
        "Type": job["Type"],
        "Priority": job["Priority"],
        "Periodic": bool(job.get("Periodic")),
        "ParameterizedJob": bool(job.get("ParameterizedJob")),
        "Stop": job["Stop"],
        "Status": job["Status"],
        "StatusDescription": job["StatusDescription"] or "",
        "JobSummary": summary,
        "CreateIndex": job["CreateIndex"],
        "ModifyIndex": job["ModifyIndex"],
        "JobModifyIndex": job["JobModifyIndex"],
        "SubmitTime": job["SubmitTime"],
        "Meta": job.get("Meta"),
    }


def register(router: Router) -> None:
    r = router

    @r.route("GET", "/v1/jobs", guard=ns("list-jobs", "read-job"), tables=JOB_TABLES)
    def list_jobs(req: Request) -> Any:
        cluster = req.sim.cluster
        allowed = set(req.namespaces_with("list-jobs")) | set(req.namespaces_with("read-job"))
        prefix = req.q("prefix") or ""
        jobs = [
            j
            for (ns_, jid), j in sorted(cluster.jobs.items())
            if ns_ in allowed and jid.startswith(prefix)
        ]
        return [job_stub(j, cluster.summary((j["Namespace"], j["ID"]))) for j in jobs]

    @r.route("POST", "/v1/jobs/parse", guard=ns("parse-job", "submit-job"))
    def parse(req: Request) -> Any:
        body = req.body()
        text = body.get("JobHCL")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Job spec is empty")
        if body.get("HCLv1"):
            raise ApiError(400, "HCL1 job specifications are not supported by this simulator")
        try:
            job = parse_job(text)
        except ParseError as exc:
            raise ApiError(400, str(exc)) from None
        if body.get("Canonicalize"):
            job = canonicalize(job, job.get("Namespace") or req.namespace, req.sim.cluster.region)
        return job

    @r.route("POST", "/v1/jobs", guard=ns("submit-job"))
    def register_job(req: Request) -> Any:
        body = req.body()
        job = body.get("Job")
        if isinstance(job, dict) and job.get("Namespace"):
            req.need_ns("submit-job", job["Namespace"])
        return jobops.register(req.sim.cluster, job, req.namespace, body)

    @r.route("GET", "/v1/job/:id", guard=ns("read-job"), tables=JOB_TABLES)
    def read_job(req: Request) -> Any:
        return _job(req)

    @r.route("POST", "/v1/job/:id", guard=ns("submit-job"))
    def update_job(req: Request) -> Any:
        body = req.body()
        job = body.get("Job")
        if isinstance(job, dict) and job.get("ID") not in (None, req.groups["id"]):
            raise ApiError(400, "Job ID does not match name")
        if isinstance(job, dict) and job.get("Namespace"):
            req.need_ns("submit-job", job["Namespace"])
        return jobops.register(req.sim.cluster, job, req.namespace, body)

    @r.route("DELETE", "/v1/job/:id", guard=ns("submit-job"))
    def deregister(req: Request) -> Any:
        return jobops.deregister(
            req.sim.cluster, req.namespace, req.groups["id"], req.flag("purge")
        )

    @r.route("POST", "/v1/job/:id/plan", guard=ns("submit-job"))
    def plan(req: Request) -> Any:
        body = req.body()
        return jobops.plan(
            req.sim.cluster,
            body.get("Job"),
            req.namespace,
            bool(body.get("Diff")),
            req.groups["id"],
        )

    @r.route("GET", "/v1/job/:id/versions", guard=ns("read-job"), tables=JOB_TABLES)
    def versions(req: Request) -> Any:
        _job(req)
        items = sorted(
            req.sim.cluster.versions[(req.namespace, req.groups["id"])], key=lambda v: -v["Version"]
        )
        diffs = None
        if req.flag("diffs"):
            from .diff import job_diff

            diffs = [job_diff(items[i + 1], items[i]) for i in range(len(items) - 1)]
        # The body repeats the query metadata the headers carry (api-docs/jobs.mdx).
        index = req.sim.store.max_index(JOB_TABLES)
        return {
            "Versions": items,
            "Diffs": diffs,
            "Index": index,
            "KnownLeader": True,
            "LastContact": 0,
        }

    @r.route("POST", "/v1/job/:id/revert", guard=ns("submit-job"))
    def revert(req: Request) -> Any:
        return jobops.revert(req.sim.cluster, req.namespace, req.groups["id"], req.body())

    @r.route("POST", "/v1/job/:id/stable", guard=ns("submit-job"))
    def stable(req: Request) -> Any:
        _job(req)
        body = req.body()
        version = req.sim.cluster.job_version(
            req.namespace, req.groups["id"], body.get("JobVersion", -1)
        )
        if version is None:
            raise ApiError(404, "job version not found")
        version["Stable"] = bool(body.get("Stable"))
        job = _job(req)
        if job["Version"] == version["Version"]:
            job["Stable"] = version["Stable"]
        index = req.sim.store.bump("jobs", "job_versions")
        return {"JobModifyIndex": index, "Index": index}

    @r.route("POST", "/v1/job/:id/scale", guard=ns("scale-job", "submit-job"))
    def scale(req: Request) -> Any:
        return jobops.scale(req.sim.cluster, req.namespace, req.groups["id"], req.body())

    @r.route(
        "GET",
        "/v1/job/:id/scale",
        guard=ns("read-job-scaling", "read-job"),
        tables=(*JOB_TABLES, "allocs"),
    )
    def scale_status(req: Request) -> Any:
        return jobops.scale_status(req.sim.cluster, req.namespace, req.groups["id"])

    @r.route("GET", "/v1/job/:id/allocations", guard=ns("read-job"), tables=("allocs",))
    def job_allocs(req: Request) -> Any:
        _job(req)
        allocs = req.sim.cluster.job_allocs((req.namespace, req.groups["id"]))
        if not req.flag("all"):
            job = _job(req)
            allocs = [a for a in allocs if a.job["CreateIndex"] == job["CreateIndex"]]
        return [a.stub() for a in sorted(allocs, key=lambda a: -a.create_index)]

    @r.route("GET", "/v1/job/:id/evaluations", guard=ns("read-job"), tables=("evals",))
    def job_evals(req: Request) -> Any:
        _job(req)
        key = (req.namespace, req.groups["id"])
        evs = [e for e in req.sim.cluster.evals.values() if (e["Namespace"], e["JobID"]) == key]
        return sorted(evs, key=lambda e: -e["CreateIndex"])

    @r.route("GET", "/v1/job/:id/deployments", guard=ns("read-job"), tables=("deployment",))
    def job_deployments(req: Request) -> Any:
        _job(req)
        key = (req.namespace, req.groups["id"])
        deps = [
            d for d in req.sim.cluster.deployments.values() if (d["Namespace"], d["JobID"]) == key
        ]
        return sorted(deps, key=lambda d: -d["CreateIndex"])

    @r.route("GET", "/v1/job/:id/deployment", guard=ns("read-job"), tables=("deployment",))
    def job_deployment(req: Request) -> Any:
        _job(req)
        return req.sim.cluster.latest_deployment((req.namespace, req.groups["id"]))

    @r.route("GET", "/v1/job/:id/summary", guard=ns("read-job"), tables=("job_summary",))
    def summary(req: Request) -> Any:
        _job(req)
        return req.sim.cluster.summary((req.namespace, req.groups["id"]))

    @r.route("POST", "/v1/job/:id/dispatch", guard=ns("dispatch-job"))
    def dispatch_job(req: Request) -> Any:
        from .dispatch import dispatch

        token = req.q("idempotency_token") or ""
        return dispatch(req.sim.cluster, req.namespace, req.groups["id"], req.body(), token)

    @r.route("POST", "/v1/job/:id/dispatch/payload", guard=ns("dispatch-job"))
    def dispatch_raw(req: Request) -> Any:
        import base64

        from .dispatch import dispatch

        body = {"Payload": base64.b64encode(req.raw_body).decode()} if req.raw_body else {}
        token = req.q("idempotency_token") or ""
        return dispatch(req.sim.cluster, req.namespace, req.groups["id"], body, token)

    @r.route("POST", "/v1/job/:id/evaluate", guard=ns("submit-job"))
    def evaluate(req: Request) -> Any:
        from .lifecycle import reconcile

        job = _job(req)
        ev = req.sim.cluster.new_eval(job, "job-register", status="pending")
        reconcile(req.sim.cluster, job, ev)
        return {
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "JobModifyIndex": job["JobModifyIndex"],
            "Warnings": "",
            "Index": ev["ModifyIndex"],
        }

    @r.route("GET", "/v1/evaluations", guard=ns("read-job"), tables=("evals",))
    def list_evals(req: Request) -> Any:
        allowed = set(req.namespaces_with("read-job"))
        evs = [e for e in req.sim.cluster.evals.values() if e["Namespace"] in allowed]
        return sorted(evs, key=lambda e: -e["CreateIndex"])

    @r.route("GET", "/v1/evaluation/:id", guard=None, tables=("evals",))
    def read_eval(req: Request) -> Any:
        ev = req.sim.cluster.evals.get(req.groups["id"])
        if ev is None:
            raise ApiError(404, "eval not found")
        req.need_ns("read-job", ev["Namespace"])
        return ev

    @r.route("GET", "/v1/evaluation/:id/allocations", guard=None, tables=("allocs",))
    def eval_allocs(req: Request) -> Any:
        ev = req.sim.cluster.evals.get(req.groups["id"])
        if ev is None:
            raise ApiError(404, "eval not found")
        req.need_ns("read-job", ev["Namespace"])
        return [a.stub() for a in req.sim.cluster.allocs.values() if a.eval_id == ev["ID"]]

    _ = Reply  # re-exported for handlers that need explicit status codes
