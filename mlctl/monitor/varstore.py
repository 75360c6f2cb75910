"""Nomad Variables with check-and-set: the monitor's durable state.

Everything the monitor must remember across restarts (alerts, what each receiver was
told, undelivered notifications, actions taken) lives in Nomad Variables under
``mlctl/monitor/`` in its state namespace, so the monitor holds no state of its own and
any replica can take over. Every write is check-and-set against the ``ModifyIndex`` it
read: a 409 means someone else wrote meanwhile, and :meth:`Variables.update` re-reads
and re-applies its change instead of overwriting blindly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from mlctl.errors import Conflict, NotFound
from mlctl.monitor.reader import http_answer
from mlctl.nomad.client import NomadClient

Items = dict[str, str]
_UNSAFE = re.compile(r"[^a-zA-Z0-9_~/\-]")


class CasConflict(Exception):
    def __init__(self, path: str, current_index: int) -> None:
        super().__init__(f"{path} changed meanwhile (now at index {current_index})")
        self.current_index = current_index


def safe_path(*parts: str) -> str:
    """A Variable path from parts (characters Nomad refuses become ``_``)."""
    return "/".join(_UNSAFE.sub("_", p) for p in parts if p)


class Variables:
    def __init__(self, client: Callable[[], NomadClient], namespace: str) -> None:
        self._client = client
        self.namespace = namespace

    def read(self, path: str) -> tuple[Items | None, int]:
        """The items and ModifyIndex (``None, 0`` when the variable does not exist)."""
        try:
            data = self._client().transport.json(
                "get", "var", *path.split("/"), params={"namespace": self.namespace}
            )
        except NotFound:
            return None, 0
        return dict(data.get("Items") or {}), int(data.get("ModifyIndex") or 0)

    def write(self, path: str, items: Items, cas: int | None) -> int:
        """Write ``items``; with ``cas`` only if the variable is still at that index."""
        params: dict[str, Any] = {"namespace": self.namespace}
        if cas is not None:
            params["cas"] = cas
        body = {"Namespace": self.namespace, "Path": path, "Items": items}
        try:
            data = self._client().transport.json(
                "put", "var", *path.split("/"), params=params, json=body
            )
        except Conflict as error:
            answer = http_answer(error)
            current = 0
            if answer is not None:
                try:
                    current = int(json.loads(answer[1]).get("ModifyIndex") or 0)
                except ValueError:
                    current = 0
            raise CasConflict(path, current) from error
        return int(data.get("ModifyIndex") or 0)

    def update(
        self, path: str, change: Callable[[Items | None], Items], attempts: int = 5
    ) -> Items:
        """Read-modify-write with check-and-set, re-reading after each conflict."""
        for _ in range(attempts):
            current, index = self.read(path)
            wanted = change(current)
            try:
                self.write(path, wanted, cas=index)
            except CasConflict:
                continue
            return wanted
        raise CasConflict(path, -1)
