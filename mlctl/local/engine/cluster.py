"""The simulated cluster's domain state: jobs and their versions, evaluations,
deployments, allocations, nodes and namespaces, plus change publication.

Everything here runs under ``store.lock``; the HTTP layer, the scheduler and the
lifecycle ticker all take it before touching state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .alloc import Alloc
from .placement import NodeUsage
from .services import alloc_registrations, serving
from .store import Event, Store, new_id
from .topology import NodeSpec, node_json

JSON = dict[str, Any]
JobKey = tuple[str, str]  # (namespace, job id)


@dataclass
class Behaviour:
    """How the tasks of matching allocations behave (steered by tests)."""

    rules: dict[tuple[str, ...], str] = field(default_factory=dict)

    def set(
        self,
        mode: str,
        job: str | None = None,
        version: int | None = None,
        image: str | None = None,
        namespace: str = "default",
    ) -> None:
        if image is not None:
            self.rules[("image", image)] = mode
        elif job is not None and version is not None:
            self.rules[("job", namespace, job, str(version))] = mode
        elif job is not None:
            self.rules[("job", namespace, job)] = mode
        else:
            raise ValueError("give a job (optionally with a version) or an image")

    def for_job(self, job: JSON) -> str:
        ns, jid, ver = job["Namespace"], job["ID"], str(job["Version"])
        if ("job", ns, jid, ver) in self.rules:
            return self.rules[("job", ns, jid, ver)]
        for group in job["TaskGroups"]:
            for task in group["Tasks"]:
                image = (task.get("Config") or {}).get("image")
                if image and ("image", image) in self.rules:
                    return self.rules[("image", image)]
        return self.rules.get(("job", ns, jid), "healthy")


class Cluster:
    """Tables of the simulated cluster and helpers to change them with index bookkeeping."""

    def __init__(self, store: Store, region: str = "global") -> None:
        self.store = store
        self.region = region
        self.jobs: dict[JobKey, JSON] = {}
        self.versions: dict[JobKey, list[JSON]] = {}
        self.evals: dict[str, JSON] = {}
        self.deployments: dict[str, JSON] = {}
        self.allocs: dict[str, Alloc] = {}
        self.nodes: dict[str, JSON] = {}
        self.namespaces: dict[str, JSON] = {}
        self.scaling_events: dict[JobKey, dict[str, list[JSON]]] = {}
        self.behaviour = Behaviour()
        self.on_alloc_stop: Callable[[Alloc], bool] = lambda alloc: True
        """Kills a stopped allocation's tasks (set by the lifecycle); True once they are dead."""
        self.start_delay: Callable[[JSON], float] = lambda group: 1.0
        """Seconds from placing a group's allocation to starting it (the driver's)."""
        self.port_available: Callable[[int], bool] = lambda port: True
        """Whether the host can give a dynamic port out (real drivers test the host)."""
        self.add_namespace("default", "Default shared namespace")

    # ------------------------------------------------------------ time and events

    def now_ns(self) -> int:
        return self.store.clock.wall_ns()

    def emit(
        self,
        topic: str,
        kind: str,
        key: str,
        namespace: str,
        payload: JSON,
        filter_keys: list[str] | None = None,
    ) -> None:
        self.store.publish(
            Event(topic, kind, key, namespace, self.store.index, payload, filter_keys or [])
        )

    # ------------------------------------------------------------ namespaces

    def add_namespace(self, name: str, description: str = "", meta: JSON | None = None) -> JSON:
        index = self.store.bump("namespaces")
        existing = self.namespaces.get(name)
        ns = {
            "Name": name,
            "Description": description,
            "Quota": "",
            "Meta": meta,
            "Capabilities": None,
            "NodePoolConfiguration": None,
            "VaultConfiguration": None,
            "ConsulConfiguration": None,
            "CreateIndex": existing["CreateIndex"] if existing else index,
            "ModifyIndex": index,
        }
        self.namespaces[name] = ns
        return ns

    # ------------------------------------------------------------ nodes

    def add_node(self, spec: NodeSpec) -> JSON:
        index = self.store.bump("nodes")
        node = node_json(spec, new_id(), index, self.now_ns())
        self.nodes[node["ID"]] = node
        self.emit("Node", "NodeRegistration", node["ID"], "", {"Node": node})
        return node

    def node_by_name_or_id(self, ref: str) -> JSON | None:
        if ref in self.nodes:
            return self.nodes[ref]
        return next((n for n in self.nodes.values() if n["Name"] == ref), None)

    def touch_node(self, node: JSON, kind: str = "NodeEvent") -> None:
        node["ModifyIndex"] = self.store.bump("nodes")
        self.emit("Node", kind, node["ID"], "", {"Node": node})

    def usage(self) -> dict[str, NodeUsage]:
        """Resources held by non-terminal allocations, per node."""
        out: dict[str, NodeUsage] = {}
        for alloc in self.allocs.values():
            if alloc.terminal:
                continue
            used = out.setdefault(alloc.node["ID"], NodeUsage())
            used.cpu += alloc.offer.cpu
            used.memory += alloc.offer.memory
            for grants in alloc.offer.devices.values():
                for grant in grants:
                    used.gpu_ids.update(grant["DeviceIDs"])
            used.ports.update(p["Value"] for p in alloc.offer.ports)
            used.jobs[f"{alloc.namespace}/{alloc.job_id}"] += 1
        return out

    # ------------------------------------------------------------ jobs

    def job(self, namespace: str, job_id: str) -> JSON | None:
        return self.jobs.get((namespace, job_id))

    def job_version(self, namespace: str, job_id: str, version: int) -> JSON | None:
        return next(
            (j for j in self.versions.get((namespace, job_id), []) if j["Version"] == version), None
        )

    def store_job(self, job: JSON) -> None:
        key = (job["Namespace"], job["ID"])
        self.jobs[key] = job
        versions = self.versions.setdefault(key, [])
        versions[:] = [v for v in versions if v["Version"] != job["Version"]] + [copy.deepcopy(job)]
        self.emit("Job", "JobRegistered", job["ID"], job["Namespace"], {"Job": job}, [job["ID"]])

    def update_job_status(self, key: JobKey) -> None:
        """Nomad's job status: running while any allocation is not terminal, else dead/pending."""
        job = self.jobs.get(key)
        if job is None:
            return
        allocs = [a for a in self.allocs.values() if (a.namespace, a.job_id) == key]
        template = bool(job.get("Periodic")) or (
            bool(job.get("ParameterizedJob")) and not job.get("Dispatched")
        )
        if template and not job["Stop"]:
            status = "running"  # Nomad shows periodic/parameterized parents as running
        elif any(not a.terminal for a in allocs):
            status = "running"
        elif job["Stop"] or allocs:
            status = "dead"
        else:
            status = "pending"
        if status != job["Status"]:
            job["Status"] = status
            job["ModifyIndex"] = self.store.bump("jobs", "job_summary")
            self.emit(
                "Job", "JobRegistered", job["ID"], job["Namespace"], {"Job": job}, [job["ID"]]
            )

    def job_allocs(self, key: JobKey) -> list[Alloc]:
        return [a for a in self.allocs.values() if (a.namespace, a.job_id) == key]

    def summary(self, key: JobKey) -> JSON:
        job = self.jobs[key]
        groups: dict[str, JSON] = {
            g["Name"]: {
                "Queued": 0,
                "Complete": 0,
                "Failed": 0,
                "Running": 0,
                "Starting": 0,
                "Lost": 0,
                "Unknown": 0,
            }
            for g in job["TaskGroups"]
        }
        for alloc in self.job_allocs(key):
            entry = groups.setdefault(
                alloc.task_group,
                dict.fromkeys(
                    ("Queued", "Complete", "Failed", "Running", "Starting", "Lost", "Unknown"), 0
                ),
            )
            field_name = {
                "pending": "Starting",
                "running": "Running",
                "complete": "Complete",
                "failed": "Failed",
                "lost": "Lost",
                "unknown": "Unknown",
            }[alloc.client_status]
            entry[field_name] += 1
        for ev in self.evals.values():
            if (ev["Namespace"], ev["JobID"]) == key and ev["Status"] == "blocked":
                for group, queued in (ev.get("QueuedAllocations") or {}).items():
                    if group in groups:
                        groups[group]["Queued"] = queued
        return {
            "JobID": job["ID"],
            "Namespace": job["Namespace"],
            "Summary": groups,
            "Children": self._children(key),
            "CreateIndex": job["CreateIndex"],
            "ModifyIndex": self.store.table_index["job_summary"],
        }

    def _children(self, key: JobKey) -> JSON:
        from .dispatch import children

        return children(self, key[0], key[1])

    # ------------------------------------------------------------ evaluations

    def new_eval(
        self, job: JSON, triggered_by: str, status: str = "complete", **extra: Any
    ) -> JSON:
        index = self.store.bump("evals")
        now = self.now_ns()
        ev = {
            "ID": new_id(),
            "Namespace": job["Namespace"],
            "Priority": job["Priority"],
            "Type": job["Type"],
            "TriggeredBy": triggered_by,
            "JobID": job["ID"],
            "JobModifyIndex": job["JobModifyIndex"],
            "NodeID": "",
            "NodeModifyIndex": 0,
            "DeploymentID": "",
            "Status": status,
            "StatusDescription": "",
            "Wait": 0,
            "WaitUntil": None,
            "NextEval": "",
            "PreviousEval": "",
            "BlockedEval": "",
            "RelatedEvals": None,
            "FailedTGAllocs": None,
            "ClassEligibility": None,
            "EscapedComputedClass": False,
            "QuotaLimitReached": "",
            "AnnotatePlan": False,
            "QueuedAllocations": None,
            "LeaderACL": "",
            "SnapshotIndex": index,
            "CreateIndex": index,
            "ModifyIndex": index,
            "CreateTime": now,
            "ModifyTime": now,
        }
        ev.update(extra)
        self.evals[ev["ID"]] = ev
        self.emit(
            "Evaluation",
            "EvaluationUpdated",
            ev["ID"],
            ev["Namespace"],
            {"Evaluation": ev},
            [ev["JobID"]],
        )
        return ev

    def touch_eval(self, ev: JSON) -> None:
        ev["ModifyIndex"] = self.store.bump("evals")
        ev["ModifyTime"] = self.now_ns()
        self.emit(
            "Evaluation",
            "EvaluationUpdated",
            ev["ID"],
            ev["Namespace"],
            {"Evaluation": ev},
            [ev["JobID"]],
        )

    # ------------------------------------------------------------ deployments

    def touch_deployment(self, dep: JSON, kind: str = "DeploymentStatusUpdate") -> None:
        dep["ModifyIndex"] = self.store.bump("deployment")
        dep["ModifyTime"] = self.now_ns()
        self.emit(
            "Deployment", kind, dep["ID"], dep["Namespace"], {"Deployment": dep}, [dep["JobID"]]
        )

    def active_deployment(self, key: JobKey) -> JSON | None:
        active = [
            d
            for d in self.deployments.values()
            if (d["Namespace"], d["JobID"]) == key
            and d["Status"] in ("running", "paused", "pending", "blocked")
        ]
        return max(active, key=lambda d: d["CreateIndex"]) if active else None

    def latest_deployment(self, key: JobKey) -> JSON | None:
        deps = [d for d in self.deployments.values() if (d["Namespace"], d["JobID"]) == key]
        return max(deps, key=lambda d: d["CreateIndex"]) if deps else None

    # ------------------------------------------------------------ allocations

    def touch_alloc(self, alloc: Alloc, kind: str = "AllocationUpdated") -> None:
        index = self.store.bump("allocs", "job_summary")
        alloc.modify_index = index
        alloc.modify_time = self.now_ns()
        payload = alloc.to_api(with_job=False)
        self.emit(
            "Allocation",
            kind,
            alloc.id,
            alloc.namespace,
            {"Allocation": payload},
            [alloc.job_id, alloc.deployment_id or ""],
        )
        self._sync_services(alloc)

    def _sync_services(self, alloc: Alloc) -> None:
        """Service topic events when an allocation starts or stops serving, as Nomad's
        client (un)registers its Nomad-provider services (keyed by registration ID)."""
        if serving(alloc) == alloc.services_registered:
            return
        alloc.services_registered = not alloc.services_registered
        kind = "ServiceRegistration" if alloc.services_registered else "ServiceDeregistration"
        for registration in alloc_registrations(alloc):
            self.emit(
                "Service",
                kind,
                registration["ID"],
                alloc.namespace,
                {"Service": registration},
                [alloc.job_id, registration["ServiceName"]],
            )

    def alloc_by_prefix(self, ref: str) -> Alloc | None:
        return self.allocs.get(ref)
