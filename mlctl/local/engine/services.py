"""Nomad-provider service registrations: what a running allocation registers.

Registrations are derived from the allocation (its group's and tasks' ``service`` blocks
with ``provider = "nomad"`` and its offered ports), so the ``/v1/service`` routes and the
``Service`` topic of the event stream always agree.
"""

from __future__ import annotations

from typing import Any

from .alloc import Alloc

JSON = dict[str, Any]


def serving(alloc: Alloc) -> bool:
    """Whether the allocation's services are registered: it runs and should."""
    return alloc.client_status == "running" and alloc.desired_status == "run"


def alloc_registrations(alloc: Alloc) -> list[JSON]:
    """The registrations of ``alloc``'s Nomad-provider services (running or not)."""
    out: list[JSON] = []
    group = alloc.group()
    services = [(s, None) for s in group.get("Services") or []]
    for task in group["Tasks"]:
        services += [(s, task["Name"]) for s in task.get("Services") or []]
    for service, task_name in services:
        if service.get("Provider") != "nomad":
            continue
        label = service.get("PortLabel") or ""
        port = next((p["Value"] for p in alloc.offer.ports if p["Label"] == label), 0)
        if label.isdigit():
            port = int(label)
        owner = f"group-{group['Name']}" if task_name is None else task_name
        out.append(
            {
                "ID": f"_nomad-task-{alloc.id}-{owner}-{service['Name']}-{label}",
                "ServiceName": service["Name"],
                "Namespace": alloc.namespace,
                "NodeID": alloc.node["ID"],
                "Datacenter": alloc.node["Datacenter"],
                "JobID": alloc.job_id,
                "AllocID": alloc.id,
                "Tags": (
                    service.get("CanaryTags")
                    if alloc.canary and service.get("CanaryTags")
                    else service.get("Tags")
                )
                or [],
                "Address": service.get("Address") or "127.0.0.1",
                "Port": port,
                "CreateIndex": alloc.create_index,
                "ModifyIndex": alloc.modify_index,
            }
        )
    return out
