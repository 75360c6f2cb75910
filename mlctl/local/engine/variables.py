"""Nomad Variables: namespaced, path-addressed maps of strings with check-and-set."""

from __future__ import annotations

import re
from typing import Any

from .cluster import Cluster
from .jobops import ApiError

JSON = dict[str, Any]
_PATH = re.compile(r"^[a-zA-Z0-9_~/\-]{1,128}$")


class Variables:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.items: dict[tuple[str, str], JSON] = {}

    @staticmethod
    def check_path(path: str) -> None:
        if not _PATH.match(path) or path.startswith("/") or path.endswith("/") or "//" in path:
            raise ApiError(400, f'invalid path "{path}"')
        if path.startswith("nomad/") and not path.startswith("nomad/jobs"):
            raise ApiError(
                400,
                '"nomad" is a reserved top-level directory path, but you may write variables '
                'to "nomad/jobs" or below',
            )

    def get(self, namespace: str, path: str) -> JSON | None:
        return self.items.get((namespace, path))

    def put(self, namespace: str, path: str, body: JSON, cas: int | None) -> JSON:
        self.check_path(path)
        if body.get("Path") not in (None, "", path):
            raise ApiError(400, "variable path does not match request path")
        items = body.get("Items")
        if not isinstance(items, dict) or not items:
            raise ApiError(400, "variable missing Items")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in items.items()):
            raise ApiError(400, "variable Items must be a map of strings")
        existing = self.items.get((namespace, path))
        if cas is not None:
            current = existing["ModifyIndex"] if existing else 0
            if cas != current:
                raise ConflictError(_conflicting(existing, namespace, path))
        index = self.cluster.store.bump("variables")
        now = self.cluster.now_ns()
        var = {
            "Namespace": namespace,
            "Path": path,
            "Items": dict(items),
            "CreateIndex": existing["CreateIndex"] if existing else index,
            "CreateTime": existing["CreateTime"] if existing else now,
            "ModifyIndex": index,
            "ModifyTime": now,
        }
        self.items[(namespace, path)] = var
        return var

    def delete(self, namespace: str, path: str, cas: int | None) -> None:
        existing = self.items.get((namespace, path))
        if cas is not None:
            current = existing["ModifyIndex"] if existing else 0
            if cas != current:
                raise ConflictError(_conflicting(existing, namespace, path))
        if existing is not None:
            del self.items[(namespace, path)]
            self.cluster.store.bump("variables")

    @staticmethod
    def meta(var: JSON) -> JSON:
        return {k: v for k, v in var.items() if k != "Items"}


def _conflicting(existing: JSON | None, namespace: str, path: str) -> JSON:
    """The body of a CAS conflict: the current variable (Items included; the route drops
    them for a token that may not read it), or an empty one when there is none."""
    if existing is not None:
        return dict(existing)
    return {
        "Namespace": namespace,
        "Path": path,
        "Items": None,
        "CreateIndex": 0,
        "CreateTime": 0,
        "ModifyIndex": 0,
        "ModifyTime": 0,
    }


class ConflictError(ApiError):
    """409 with the conflicting variable as the body (CAS failure)."""

    def __init__(self, current: JSON) -> None:
        super().__init__(409, "cas conflict")
        self.current = current
