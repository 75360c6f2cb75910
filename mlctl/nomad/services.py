"""Nomad-native service registrations: where a model answers."""

from __future__ import annotations

from typing import cast

from mlctl.nomad.transport import Transport
from mlctl.nomad.types import ServiceRegistration


class Services:
    """``/v1/service/:name`` and ``/v1/job/:id/services``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def read(self, name: str) -> list[ServiceRegistration]:
        """Registrations (address, port, alloc) of one service in the namespace."""
        params = {"namespace": self._t.namespace}
        return cast(
            list[ServiceRegistration], self._t.json("get", "service", name, params=params) or []
        )

    def of_job(self, job_id: str) -> list[ServiceRegistration]:
        """Every registration belonging to ``job_id``."""
        return cast(list[ServiceRegistration], self._t.json("get", "job", job_id, "services") or [])
