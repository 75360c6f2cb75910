"""Nomad Variables: ``/v1/var/:path`` and ``/v1/vars``.

Small secrets and records live here (a workspace's token, training run history). Writes
use check-and-set, so two writers never silently overwrite each other. The path goes
into the URL segment by segment, so its slashes stay path separators. python-nomad only
adds ``?namespace=`` for the endpoints it knows, and ``var``/``vars`` are not among them,
so every call here names the namespace itself.
"""

from __future__ import annotations

from typing import Any, cast

from mlctl.errors import Conflict, NotFound
from mlctl.nomad.transport import Transport

Variable = dict[str, Any]


class Variables:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def read(self, path: str) -> Variable | None:
        """The variable with its ``Items``, or None when there is none at ``path``."""
        try:
            return cast(Variable, self._t.json("get", "var", *path.split("/"), params=self._ns()))
        except NotFound:
            return None

    def write(self, path: str, items: dict[str, str], *, cas: int | None = None) -> Variable:
        """Create or update; with ``cas`` only if the variable's ModifyIndex is still that
        (0: only if it does not exist). A lost race is a Conflict."""
        params: dict[str, Any] = self._ns() if cas is None else {**self._ns(), "cas": cas}
        body = {"Namespace": self._t.namespace, "Path": path, "Items": items}
        response = self._t.request("put", "var", *path.split("/"), params=params, json=body)
        if response.status_code == 409:
            raise Conflict(f"variable {path} changed meanwhile", hint="run the command again")
        with self._t.mapped():
            response.raise_for_status()
            return cast(Variable, response.json())

    def delete(self, path: str) -> None:
        self._t.request("delete", "var", *path.split("/"), params=self._ns())

    def list(self, prefix: str = "") -> list[Variable]:
        """Metadata (no items) of the variables under ``prefix`` the token may list."""
        params = {**self._ns(), "prefix": prefix}
        return cast(list[Variable], self._t.json("get", "vars", params=params) or [])

    def _ns(self) -> dict[str, Any]:
        return {"namespace": self._t.namespace}
