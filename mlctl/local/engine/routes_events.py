"""``GET /v1/event/stream``: ndjson frames of events, with ``{}`` heartbeats.

Heartbeats come every 10 simulated seconds (Nomad's interval); a test can cut every
open stream through the simulator to exercise a client's reconnect logic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .http import Reply, Request, Router
from .jobops import ApiError
from .store import Event

HEARTBEAT_SIM_SECONDS = 10.0
NAMESPACED_TOPICS = ("Job", "Allocation", "Deployment", "Evaluation")
KNOWN_TOPICS = (
    *NAMESPACED_TOPICS,
    "Node",
    "NodeDrain",
    "ACLToken",
    "ACLPolicy",
    "ACLRole",
    "Service",
    "*",
)


def _topics(req: Request) -> dict[str, set[str]]:
    topics: dict[str, set[str]] = {}
    for raw in req.params.get("topic") or ["*:*"]:
        name, _, key = raw.partition(":")
        if name not in KNOWN_TOPICS:
            raise ApiError(400, f'invalid topic "{name}"')
        topics.setdefault(name, set()).add(key or "*")
    return topics


def _authorize(req: Request, topics: dict[str, set[str]]) -> None:
    for name in topics:
        if name in ("*", "ACLToken", "ACLPolicy", "ACLRole"):
            req.need_management()
        elif name in ("Node", "NodeDrain"):
            req.need("node", "read")
        elif req.namespace == "*":
            if not req.namespaces_with("read-job"):
                raise ApiError(403, "Permission denied")
        else:
            req.need_ns("read-job")


def _wanted(event: Event, topics: dict[str, set[str]], namespace: str, allowed: set[str]) -> bool:
    keys = topics.get(event.topic) or topics.get("*")
    if keys is None:
        return False
    if "*" not in keys and event.key not in keys and not (keys & set(event.filter_keys)):
        return False
    if event.topic in NAMESPACED_TOPICS:
        if namespace != "*" and event.namespace != namespace:
            return False
        if event.namespace not in allowed:
            return False
    return True


def register(router: Router) -> None:
    @router.route("GET", "/v1/event/stream", locked=False)
    def stream(req: Request) -> Any:
        sim = req.sim
        topics = _topics(req)
        with sim.store.lock:
            _authorize(req, topics)
            allowed = {
                n for n in sim.cluster.namespaces if req.grant.allow_namespace(n, "read-job")
            }
            generation = sim.store.stream_generation
        try:
            start = int(req.q("index") or "0")
        except ValueError:
            raise ApiError(400, "index must be an integer") from None
        namespace = req.namespace
        heartbeat = max(0.02, sim.clock.real_seconds(HEARTBEAT_SIM_SECONDS))

        def frames() -> Iterator[bytes]:
            last = start - 1 if start > 0 else 0
            while not sim.stopped.is_set():
                with sim.store.changed:
                    pending = [e for e in sim.store.events if e.index > last]
                    if not pending and sim.store.stream_generation == generation:
                        sim.store.changed.wait(heartbeat)
                        pending = [e for e in sim.store.events if e.index > last]
                    cut = sim.store.stream_generation != generation
                if cut:
                    return
                if not pending:
                    yield b"{}\n"
                    continue
                last = pending[-1].index
                by_index: dict[int, list[dict[str, Any]]] = {}
                for event in pending:
                    if _wanted(event, topics, namespace, allowed):
                        by_index.setdefault(event.index, []).append(event.to_api())
                for index, events in sorted(by_index.items()):
                    yield json.dumps({"Index": index, "Events": events}).encode() + b"\n"

        return Reply(stream=frames(), content_type="application/json")
