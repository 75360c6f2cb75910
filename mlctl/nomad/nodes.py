"""Client nodes with their resources (GPUs are ``NodeResources.Devices``)."""

from __future__ import annotations

from typing import cast

from mlctl.nomad.transport import Transport
from mlctl.nomad.types import Allocation, Node


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
