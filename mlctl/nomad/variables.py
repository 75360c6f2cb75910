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
"""

from __future__ import annotations

import re
from typing import TypedDict, cast

from mlctl.errors import Conflict, InvalidInput, NotFound
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
