"""Allocations: read one in full, restart one in place, stop one (Nomad replaces it)."""

from __future__ import annotations

from typing import Any, cast

from mlctl.nomad.transport import Transport
from mlctl.nomad.types import Allocation, WriteResponse


class Allocations:
    """``/v1/allocation/:id`` and ``/v1/client/allocation/:id``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def read(self, alloc_id: str) -> Allocation:
        """The full allocation, including ``TaskStates`` with their events."""
        api = self._t.api
        return cast(Allocation, self._t.call(lambda: api.allocation.get_allocation(alloc_id)))

    def checks(self, alloc_id: str) -> dict[str, dict[str, Any]]:
        """Latest result of each Nomad-provider service check (Nomad 1.4+), by check ID."""
        params = {"namespace": self._t.namespace}
        return cast(
            dict[str, dict[str, Any]],
            self._t.json("get", "allocation", alloc_id, "checks", params=params) or {},
        )

    def restart(self, alloc_id: str) -> None:
        """Restart every task of the allocation on its node (no rescheduling)."""
        self._t.request("post", "client", "allocation", alloc_id, "restart", json={})

    def stop(self, alloc_id: str) -> WriteResponse:
        """``POST /v1/allocation/:id/stop``: stop this one instance; its job's scheduler
        places a replacement (the seeds' "kill a single service instance")."""
        return cast(WriteResponse, self._t.json("post", "allocation", alloc_id, "stop", json={}))
