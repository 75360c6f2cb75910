"""Nomad-native service registrations: where a model answers."""

from __future__ import annotations

from typing import cast

from mlctl.nomad.transport import Transport
from mlctl.nomad.types import Job, ServiceRegistration


class Services:
    """``/v1/service/:name``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def read(self, name: str) -> list[ServiceRegistration]:
        """Registrations (address, port, alloc) of one service in the namespace."""
        params = {"namespace": self._t.namespace}
        return cast(
            list[ServiceRegistration], self._t.json("get", "service", name, params=params) or []
        )

    def for_job(self, job: Job) -> list[ServiceRegistration]:
        """The registrations of every service ``job`` declares (its groups' and tasks')."""
        names = sorted(
            {
                service.get("Name", "")
                for group in job.get("TaskGroups") or []
                for holder in [group, *(group.get("Tasks") or [])]
                for service in holder.get("Services") or []
            }
            - {""}
        )
        return [
            registration
            for name in names
            for registration in self.read(name)
            if registration.get("JobID") == job.get("ID")
        ]
