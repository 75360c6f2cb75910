"""Deployments: watch one with blocking queries, promote its canaries."""

from __future__ import annotations

from typing import cast

from mlctl.nomad.transport import Transport
from mlctl.nomad.types import Allocation, Deployment, WriteResponse

#: Deployment statuses after which Nomad changes nothing more.
TERMINAL_STATUSES = frozenset({"successful", "failed", "cancelled"})


class Deployments:
    """``/v1/deployment/:id`` and its actions."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def read(
        self, deployment_id: str, index: int = 0, wait: float = 30.0
    ) -> tuple[Deployment, int]:
        """The deployment; blocks until it changes after ``index`` when one is given."""
        data, new_index = self._t.blocking("deployment", deployment_id, index=index, wait=wait)
        return cast(Deployment, data), new_index

    def allocations(self, deployment_id: str) -> list[Allocation]:
        return cast(
            list[Allocation], self._t.json("get", "deployment", "allocations", deployment_id) or []
        )

    def promote(self, deployment_id: str) -> WriteResponse:
        """Promote every group's canaries, letting the rollout continue."""
        api = self._t.api
        return cast(
            WriteResponse,
            self._t.call(lambda: api.deployment.promote_deployment_all(deployment_id)),
        )
