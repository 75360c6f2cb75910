"""Client nodes with their resources (GPUs are ``NodeResources.Devices``)."""

from __future__ import annotations

from typing import cast

from mlctl.nomad.transport import Transport
from mlctl.nomad.types import Allocation, Node, WriteResponse


class Nodes:
    """``/v1/nodes`` and ``/v1/node/:id``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list_nodes(self) -> list[Node]:
        """Every client with its ``NodeResources`` (``resources=true``)."""
        api = self._t.api
        return cast(list[Node], self._t.call(lambda: api.nodes.get_nodes(resources=True)))

    def read(self, node_id: str) -> Node:
        api = self._t.api
        return cast(Node, self._t.call(lambda: api.node.get_node(node_id)))

    def allocations(self, node_id: str) -> list[Allocation]:
        """Allocations on the node, across namespaces the token may read."""
        return cast(list[Allocation], self._t.json("get", "node", node_id, "allocations") or [])

    def set_eligibility(self, node_id: str, eligible: bool) -> WriteResponse:
        """``POST /v1/node/:id/eligibility``: whether new allocations may be placed there."""
        body = {"NodeID": node_id, "Eligibility": "eligible" if eligible else "ineligible"}
        return cast(WriteResponse, self._t.json("post", "node", node_id, "eligibility", json=body))

    def drain(
        self, node_id: str, deadline_seconds: float = 3600.0, ignore_system_jobs: bool = False
    ) -> WriteResponse:
        """``POST /v1/node/:id/drain``: mark the node ineligible and migrate its
        allocations; after ``deadline_seconds`` Nomad stops what is left."""
        body = {
            "NodeID": node_id,
            "DrainSpec": {
                "Deadline": int(deadline_seconds * 1_000_000_000),
                "IgnoreSystemJobs": ignore_system_jobs,
            },
            "MarkEligible": False,
        }
        return cast(WriteResponse, self._t.json("post", "node", node_id, "drain", json=body))
