"""Nomad Variables: namespaced, path-addressed maps of strings with check-and-set,
and the locks a variable can hold (:mod:`.locks`)."""

from __future__ import annotations

import re
from typing import Any

from .cluster import Cluster
from .jobops import ApiError
from .locks import (
    ERR_ITEMS_ON_RELEASE,
    ERR_LOCK_ON_WRITE,
    ERR_LOCKED,
    ERR_MISSING_INFO,
    ERR_NO_LOCK,
    ERR_NO_VAR,
    LockConflict,
    LockRequest,
    LockTimers,
    empty_conflict,
    held_by,
    multierror,
)

JSON = dict[str, Any]
_PATH = re.compile(r"^[a-zA-Z0-9_~/\-]{1,128}$")


class Variables:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.items: dict[tuple[str, str], JSON] = {}
        self.timers = LockTimers()

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
            raise ApiError(400, "variable missing required Items object")
        _check_strings(items)
        lock = LockRequest.of(body)
        if lock.present and (lock.ttl or lock.delay):
            raise ApiError(400, ERR_LOCK_ON_WRITE)
        self.expire()
        existing = self.items.get((namespace, path))
        if cas is not None:
            current = existing["ModifyIndex"] if existing else 0
            if cas != current:
                raise ConflictError(_conflicting(existing, namespace, path))
        _refuse_other_holders(existing, lock.id, namespace, path)
        # Nomad canonicalizes whatever Lock the request carried (the holder's ID, 15s).
        return self._store(namespace, path, items, existing, lock.canonical() if lock.id else None)

    def _store(
        self, namespace: str, path: str, items: JSON, existing: JSON | None, lock: JSON | None
    ) -> JSON:
        index = self.cluster.store.bump("variables")
        now = self.cluster.now_ns()
        var: JSON = {"Namespace": namespace, "Path": path}
        if lock is not None:
            var["Lock"] = lock
        var.update(
            {
                "Items": dict(items),
                "CreateIndex": existing["CreateIndex"] if existing else index,
                "CreateTime": existing["CreateTime"] if existing else now,
                "ModifyIndex": index,
                "ModifyTime": now,
            }
        )
        self.items[(namespace, path)] = var
        return var

    def delete(self, namespace: str, path: str, cas: int | None) -> None:
        self.expire()
        existing = self.items.get((namespace, path))
        if cas is not None:
            current = existing["ModifyIndex"] if existing else 0
            if cas != current:
                raise ConflictError(_conflicting(existing, namespace, path))
        if held_by(existing):  # the HTTP delete carries no lock ID: a locked one stays
            raise LockConflict(empty_conflict(namespace, path))
        if existing is not None:
            del self.items[(namespace, path)]
            self.cluster.store.bump("variables")

    @staticmethod
    def meta(var: JSON) -> JSON:
        return {k: v for k, v in var.items() if k != "Items"}

    # ------------------------------------------------------------------ locks

    def _now(self) -> float:
        return self.cluster.store.clock.now()

    def expire(self) -> bool:
        """Apply lock timers up to now: locks whose TTL (x2) and delay ran out are
        removed from their variables (items kept). True when any was."""
        removed = False
        for lock_id, key in self.timers.due(self._now()):
            var = self.items.get(key)
            if var is not None and held_by(var) == lock_id:
                self._unlock(var)
                removed = True
        return removed

    def _unlock(self, var: JSON) -> JSON:
        var.pop("Lock", None)
        var["ModifyIndex"] = self.cluster.store.bump("variables")
        var["ModifyTime"] = self.cluster.now_ns()
        return var

    def restore_locks(self) -> None:
        """After loading saved state: every held lock gets a fresh TTL timer."""
        self.timers.restore(self.items, self._now())

    def acquire(self, namespace: str, path: str, body: JSON) -> JSON:
        self.check_path(path)
        lock = LockRequest.of(body)
        lock.validate_for_acquire()
        items = body.get("Items") or {}
        if not isinstance(items, dict):
            raise ApiError(400, "variable Items must be a map of strings")
        _check_strings(items)
        self.expire()
        existing = self.items.get((namespace, path))
        wanted = lock.canonical()
        _refuse_other_holders(existing, wanted["ID"], namespace, path)
        var = self._store(namespace, path, items, existing, wanted)
        self.timers.create(wanted["ID"], (namespace, path), wanted, self._now())
        return var

    def renew(self, namespace: str, path: str, body: JSON) -> JSON:
        lock = LockRequest.of(body)
        if not lock.id:
            raise ApiError(500, multierror(["missing lock ID"]))
        self.expire()
        var = self.items.get((namespace, path))
        if var is None:
            raise ApiError(404, ERR_NO_VAR)
        if not held_by(var):
            raise ApiError(409, ERR_NO_LOCK)
        if held_by(var) != lock.id or not self.timers.renew(lock.id, var["Lock"], self._now()):
            raise ApiError(409, ERR_LOCKED)
        return self.meta(var)

    def release(self, namespace: str, path: str, body: JSON) -> JSON:
        lock = LockRequest.of(body)
        if not lock.id:
            raise ApiError(400, ERR_MISSING_INFO)
        if body.get("Items") is not None:
            raise ApiError(400, ERR_ITEMS_ON_RELEASE)
        self.check_path(path)
        self.expire()
        var = self.items.get((namespace, path))
        if var is None:
            raise ApiError(500, ERR_NO_VAR)
        if not held_by(var):
            raise ApiError(500, ERR_NO_LOCK)
        if held_by(var) != lock.id:
            raise LockConflict(empty_conflict(namespace, path, with_lock=True))
        self.timers.remove(lock.id)
        return self.meta(self._unlock(var))


def _check_strings(items: JSON) -> None:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in items.items()):
        raise ApiError(400, "variable Items must be a map of strings")


def _refuse_other_holders(existing: JSON | None, lock_id: str, namespace: str, path: str) -> None:
    """A locked variable takes writes and acquires only with its own lock ID (409 with
    an empty variable otherwise, as Nomad answers)."""
    holder = held_by(existing)
    if holder and holder != lock_id:
        raise LockConflict(empty_conflict(namespace, path))


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
