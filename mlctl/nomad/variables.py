"""Nomad Variables: ``/v1/vars`` and ``/v1/var/:path``, with check-and-set.

Small records live here: schedules (``mlctl/schedules/<model>``), workspace tokens,
training run history, the monitor's state.

Shapes follow hashicorp/nomad ``website/content/api-docs/variables/variables.mdx``:
a variable is ``{Namespace, Path, Items: {str: str}, CreateIndex, ModifyIndex, …}``.
A write or delete with ``cas`` succeeds only if the variable's ``ModifyIndex`` still
equals it (``cas=0``: only if it does not exist yet); otherwise Nomad answers 409 with
the current variable, which becomes :class:`VariableConflict` here so callers re-read
and retry instead of overwriting blindly.

python-nomad does not add ``namespace`` to ``/v1/var`` paths by itself, so every call
here names its namespace explicitly (the client's unless another is given).

Locks (Nomad >= 1.7, ``api-docs/variables/locks``): ``PUT /v1/var/:path?lock-acquire``
with ``Lock: {TTL, LockDelay}`` creates the variable if needed and answers its lock ID;
``?lock-renew`` and ``?lock-release`` take that ID. A held lock answers 409
(:class:`LockConflict`). A Nomad without locks ignores the query (a plain write that
answers no ``Lock``) or refuses the call (400/404/405): :class:`LocksUnsupported`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import requests

from mlctl.errors import Conflict, InvalidInput, MlctlError, NotFound
from mlctl.nomad.transport import Transport

#: Nomad's rule for variable paths (variables.mdx, "Restrictions").
PATH_PATTERN = re.compile(r"^[a-zA-Z0-9_~/\-]{1,128}$")


class VariableMeta(TypedDict, total=False):
    Namespace: str
    Path: str
    CreateIndex: int
    ModifyIndex: int
    CreateTime: int
    ModifyTime: int


class Variable(VariableMeta, total=False):
    Items: dict[str, str]


class VariableConflict(Conflict):
    """A check-and-set write or delete lost a race: someone changed the variable first."""


class LockConflict(Conflict):
    """The lock is held by someone else, was lost (renew), or is in its lock delay."""


class LocksUnsupported(MlctlError):
    """This Nomad has no variable locks (older than 1.7)."""


@dataclass(frozen=True)
class HeldLock:
    """A lock this caller holds: its ID and the terms Nomad granted."""

    path: str
    namespace: str
    id: str
    ttl: str
    lock_delay: str
    modify_index: int


def _status(error: BaseException) -> int | None:
    """The HTTP status behind a mapped error (None: no answer came)."""
    seen: BaseException | None = error
    while seen is not None:
        payload = getattr(seen, "nomad_resp", None)
        if isinstance(payload, requests.Response):
            return payload.status_code
        seen = seen.__cause__
    return None


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


def _parts(path: str) -> list[str]:
    if not PATH_PATTERN.match(path) or path.startswith("/") or path.endswith("/") or "//" in path:
        raise InvalidInput(f"variable path {path!r} is not valid in Nomad")
    return ["var", *path.split("/")]


class Variables:
    """``/v1/var(s)``: read, write and delete one variable; list by prefix."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _namespace(self, namespace: str | None) -> str:
        return namespace or self._t.namespace

    def read(self, path: str, namespace: str | None = None) -> Variable | None:
        """The variable with its items, or None when there is none."""
        params = {"namespace": self._namespace(namespace)}
        try:
            return cast(Variable, self._t.json("get", *_parts(path), params=params))
        except NotFound:
            return None

    def write(
        self,
        path: str,
        items: dict[str, str],
        *,
        namespace: str | None = None,
        cas: int | None = None,
    ) -> Variable:
        """Create or replace the variable; with ``cas``, only over that ModifyIndex."""
        ns = self._namespace(namespace)
        params: dict[str, object] = {"namespace": ns}
        if cas is not None:
            params["cas"] = cas
        body = {"Namespace": ns, "Path": path, "Items": items}
        try:
            return cast(Variable, self._t.json("put", *_parts(path), params=params, json=body))
        except Conflict as error:
            raise VariableConflict(
                f"variable {path} in namespace {ns} changed since it was read",
                hint="read it again and retry",
            ) from error

    def delete(self, path: str, *, namespace: str | None = None, cas: int | None = None) -> None:
        """Delete the variable (nothing happens when it does not exist)."""
        ns = self._namespace(namespace)
        params: dict[str, object] = {"namespace": ns}
        if cas is not None:
            params["cas"] = cas
        try:
            self._t.request("delete", *_parts(path), params=params)
        except Conflict as error:
            raise VariableConflict(
                f"variable {path} in namespace {ns} changed since it was read",
                hint="read it again and retry",
            ) from error

    def list(self, prefix: str = "", namespace: str | None = None) -> list[VariableMeta]:
        """Metadata (no items) of the variables under ``prefix``; ``namespace="*"`` lists
        every namespace the token may read."""
        params = {"namespace": self._namespace(namespace), "prefix": prefix}
        return cast(list[VariableMeta], self._t.json("get", "vars", params=params) or [])

    # ------------------------------------------------------------------ locks

    def _lock_call(self, op: str, path: str, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, object] = {"namespace": ns, op: ""}
        try:
            answer = self._t.json("put", *_parts(path), params=params, json=body)
            return cast(dict[str, Any], answer)
        except Conflict as error:
            raise LockConflict(
                f"the lock on variable {path} in namespace {ns} is held or was lost",
                hint="another holder has it; try again after its TTL and lock delay",
            ) from error
        except MlctlError as error:
            if op == "lock-acquire" and _status(error) in (400, 404, 405):
                raise LocksUnsupported(
                    f"Nomad refused {op} on variable {path}: {error.one_line()}",
                    hint="variable locks need Nomad 1.7 or later",
                ) from error
            raise

    def acquire_lock(
        self,
        path: str,
        *,
        ttl: float = 15.0,
        lock_delay: float = 15.0,
        items: dict[str, str] | None = None,
        namespace: str | None = None,
    ) -> HeldLock:
        """Take the lock on ``path`` (the variable is created, its items replaced by
        ``items``); :class:`LockConflict` when someone holds it or its delay runs."""
        ns = self._namespace(namespace)
        body: dict[str, Any] = {
            "Namespace": ns,
            "Path": path,
            "Lock": {"TTL": _duration(ttl), "LockDelay": _duration(lock_delay)},
        }
        if items:
            body["Items"] = items
        answer = self._lock_call("lock-acquire", path, ns, body)
        lock = answer.get("Lock") if isinstance(answer, dict) else None
        if not isinstance(lock, dict) or not lock.get("ID"):
            raise LocksUnsupported(
                f"Nomad wrote variable {path} but answered no lock: it ignores ?lock-acquire",
                hint="variable locks need Nomad 1.7 or later",
            )
        return HeldLock(
            path, ns, str(lock["ID"]), str(lock.get("TTL") or ""),
            str(lock.get("LockDelay") or ""), int(answer.get("ModifyIndex") or 0),
        )  # fmt: skip

    def renew_lock(self, held: HeldLock) -> None:
        """Extend the lease; :class:`LockConflict` when the lock was lost meanwhile,
        :class:`~mlctl.errors.NotFound` when the variable is gone."""
        body = {"Namespace": held.namespace, "Path": held.path, "Lock": {"ID": held.id}}
        self._lock_call("lock-renew", held.path, held.namespace, body)

    def release_lock(self, held: HeldLock) -> None:
        """Give the lock up now (others may take it at once; the items stay)."""
        body = {"Namespace": held.namespace, "Path": held.path, "Lock": {"ID": held.id}}
        self._lock_call("lock-release", held.path, held.namespace, body)

    def write_held(self, held: HeldLock, items: dict[str, str]) -> Variable:
        """Replace the items of a variable whose lock this caller holds."""
        params = {"namespace": held.namespace}
        body = {"Namespace": held.namespace, "Path": held.path, "Items": items,
                "Lock": {"ID": held.id}}  # fmt: skip
        try:
            return cast(Variable, self._t.json("put", *_parts(held.path), params=params, json=body))
        except Conflict as error:
            raise LockConflict(f"the lock on variable {held.path} is no longer ours") from error
