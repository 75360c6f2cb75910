"""The engine's state in SQLite, so ``mlctl local`` survives restarts, reboots and kill -9.

Every change is written before anyone outside the engine's lock can see it: the
store calls :meth:`StateDB.save` at the end of each request and tick that moved the
index (:meth:`Store.commit`).  SQLite runs in WAL mode with ``synchronous=NORMAL``:
a committed change survives the process being killed; a power cut may lose the last
moments, which is why :meth:`StateDB.restore` also moves the index forward by
:data:`INDEX_MARGIN` — the index a client saw never goes backwards.

One row per object (``kind``, ``key``) holding its JSON; a save serialises only the
kinds whose table index moved and writes only rows whose JSON changed, so an idle
runtime writes nothing.  What is kept: jobs and their versions, evaluations,
deployments, allocations (with their drivers' process handles), nodes, namespaces,
scaling events, ACL policies, tokens and roles, variables, the index and the clock.
The event stream's buffer is not kept (Nomad's is in memory too).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .alloc import Alloc
from .placement import Offer

if TYPE_CHECKING:
    from .sim import NomadSim

JSON = dict[str, Any]
SCHEMA_VERSION = 1
INDEX_MARGIN = 1000
_ALLOC_SPECIAL = {"node", "offer", "job", "logs"}
_ALLOC_FIELDS = [f.name for f in fields(Alloc) if f.name not in _ALLOC_SPECIAL]


def _tuple_key(key: tuple[str, ...] | str) -> str:
    return json.dumps(list(key)) if isinstance(key, tuple) else key


def _untuple_key(text: str) -> tuple[str, ...] | str:
    if text.startswith("["):
        return tuple(json.loads(text))
    return text


def alloc_state(alloc: Alloc) -> JSON:
    """An allocation's full state (API fields and the lifecycle's private ones)."""
    out = {name: getattr(alloc, name) for name in _ALLOC_FIELDS}
    out["node_id"] = alloc.node["ID"]
    out["job"] = alloc.job
    offer = alloc.offer
    out["offer"] = {
        "cpu": offer.cpu,
        "memory": offer.memory,
        "devices": offer.devices,
        "ports": offer.ports,
    }
    return out


def alloc_from_state(data: JSON, nodes: dict[str, JSON]) -> Alloc:
    node = nodes[data["node_id"]]
    raw = data["offer"]
    offer = Offer(node, raw["cpu"], raw["memory"], raw["devices"], raw["ports"])
    values = {name: data[name] for name in _ALLOC_FIELDS if name in data}
    return Alloc(node=node, offer=offer, job=data["job"], **values)


class Kind:
    """One kind of row: which tables move it, how to list and rebuild its objects."""

    def __init__(
        self,
        name: str,
        tables: tuple[str, ...],
        items: Callable[[NomadSim], Iterator[tuple[str, Any]]],
        load: Callable[[NomadSim, str, Any], None],
    ) -> None:
        self.name = name
        self.tables = tables
        self.items = items
        self.load = load


def _dict_items(
    getter: Callable[[NomadSim], dict[Any, Any]], convert: Callable[[Any], Any] = lambda v: v
) -> Callable[[NomadSim], Iterator[tuple[str, Any]]]:
    def items(sim: NomadSim) -> Iterator[tuple[str, Any]]:
        for key, value in getter(sim).items():
            yield _tuple_key(key), convert(value)

    return items


def _dict_load(
    getter: Callable[[NomadSim], dict[Any, Any]],
) -> Callable[[NomadSim, str, Any], None]:
    def load(sim: NomadSim, key: str, value: Any) -> None:
        getter(sim)[_untuple_key(key)] = value

    return load


def _load_alloc(sim: NomadSim, key: str, value: Any) -> None:
    sim.cluster.allocs[key] = alloc_from_state(value, sim.cluster.nodes)


def _acl_items(sim: NomadSim) -> Iterator[tuple[str, Any]]:
    acls = sim.acls
    for attribute in ACL_ATTRIBUTES:
        if hasattr(acls, attribute):
            yield attribute, getattr(acls, attribute)


def _load_acl(sim: NomadSim, key: str, value: Any) -> None:
    from . import acl

    setattr(sim.acls, key, value)
    if key == "policies":
        sim.acls.parsed = {name: acl.parse_policy(p["Rules"]) for name, p in value.items()}


def _variable_items(sim: NomadSim) -> Iterator[tuple[str, Any]]:
    for key, value in sim.variables.items.items():
        yield _tuple_key(key), value


#: AclStore attributes kept (others' additions: add their names here).
ACL_ATTRIBUTES = ("policies", "tokens", "roles", "bootstrap_index")

KINDS = (
    Kind(
        "node",
        ("nodes",),
        _dict_items(lambda s: s.cluster.nodes),
        _dict_load(lambda s: s.cluster.nodes),
    ),
    Kind(
        "namespace",
        ("namespaces",),
        _dict_items(lambda s: s.cluster.namespaces),
        _dict_load(lambda s: s.cluster.namespaces),
    ),
    Kind(
        "job",
        ("jobs", "job_summary"),
        _dict_items(lambda s: s.cluster.jobs),
        _dict_load(lambda s: s.cluster.jobs),
    ),
    Kind(
        "versions",
        ("jobs", "job_versions"),
        _dict_items(lambda s: s.cluster.versions),
        _dict_load(lambda s: s.cluster.versions),
    ),
    Kind(
        "eval",
        ("evals",),
        _dict_items(lambda s: s.cluster.evals),
        _dict_load(lambda s: s.cluster.evals),
    ),
    Kind(
        "deployment",
        ("deployment",),
        _dict_items(lambda s: s.cluster.deployments),
        _dict_load(lambda s: s.cluster.deployments),
    ),
    Kind("alloc", ("allocs",), _dict_items(lambda s: s.cluster.allocs, alloc_state), _load_alloc),
    Kind(
        "scaling",
        ("scaling_event",),
        _dict_items(lambda s: s.cluster.scaling_events),
        _dict_load(lambda s: s.cluster.scaling_events),
    ),
    Kind("acl", (), _acl_items, _load_acl),
    Kind("variable", ("variables",), _variable_items, _dict_load(lambda s: s.variables.items)),
)
_ORDER = {kind.name: position for position, kind in enumerate(KINDS)}


class StateDB:
    """The SQLite file; one connection used under the engine's lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS objects "
            "(kind TEXT, key TEXT, body TEXT, PRIMARY KEY (kind, key))"
        )
        path.chmod(0o600)
        self._written: dict[tuple[str, str], str] = {}
        self._tables_seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def has_state(self) -> bool:
        return self.meta("index") is not None

    def save(self, sim: NomadSim, everything: bool = False) -> None:
        """Write what changed since the last save (callers hold the engine's lock)."""
        with self._lock:
            store = sim.store
            changes: list[tuple[str, str, str | None]] = []
            for kind in KINDS:
                moved = any(
                    store.table_index.get(t, 0) != self._tables_seen.get(t) for t in kind.tables
                )
                if not (everything or moved or not kind.tables):
                    continue
                changes += self._diff(kind, sim)
            self.db.execute("BEGIN")
            try:
                for kind_name, key, body in changes:
                    if body is None:
                        self.db.execute(
                            "DELETE FROM objects WHERE kind = ? AND key = ?", (kind_name, key)
                        )
                    else:
                        self.db.execute(
                            "INSERT OR REPLACE INTO objects (kind, key, body) VALUES (?, ?, ?)",
                            (kind_name, key, body),
                        )
                self._put_meta("index", str(store.index))
                self._put_meta("table_index", json.dumps(store.table_index))
                self._put_meta("clock_start_wall", repr(store.clock.start_wall))
                self._put_meta("schema", str(SCHEMA_VERSION))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            for kind_name, key, body in changes:
                if body is None:
                    self._written.pop((kind_name, key), None)
                else:
                    self._written[(kind_name, key)] = body
            self._tables_seen = dict(store.table_index)

    def _diff(self, kind: Kind, sim: NomadSim) -> list[tuple[str, str, str | None]]:
        out: list[tuple[str, str, str | None]] = []
        present = set()
        for key, value in kind.items(sim):
            present.add(key)
            body = json.dumps(value, separators=(",", ":"), sort_keys=True)
            if self._written.get((kind.name, key)) != body:
                out.append((kind.name, key, body))
        for kind_name, key in list(self._written):
            if kind_name == kind.name and key not in present:
                out.append((kind_name, key, None))
        return out

    def _put_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def restore(self, sim: NomadSim) -> None:
        """Load the saved state into a freshly built engine (before it starts serving)."""
        schema = self.meta("schema")
        if schema != str(SCHEMA_VERSION):
            raise RuntimeError(f"{self.path}: state schema {schema} is not {SCHEMA_VERSION}")
        rows = self.db.execute("SELECT kind, key, body FROM objects").fetchall()
        rows.sort(key=lambda row: _ORDER.get(row[0], len(_ORDER)))
        by_name = {kind.name: kind for kind in KINDS}
        with sim.store.lock:
            sim.cluster.namespaces.clear()
            for kind_name, key, body in rows:
                kind = by_name.get(kind_name)
                if kind is not None:
                    kind.load(sim, key, json.loads(body))
                    self._written[(kind_name, key)] = body
            sim.variables.restore_locks()  # held locks get a fresh TTL, as on a new leader
            # Every table answers blocking queries from the new index on: a client that
            # saw any index before the restart gets a fresh answer, never a stale wait.
            index = int(self.meta("index") or "1") + INDEX_MARGIN
            sim.store.index = index
            sim.store.table_index.update(dict.fromkeys(sim.store.table_index, index))
            self._tables_seen = dict(sim.store.table_index)
