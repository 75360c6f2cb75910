"""``GET /v1/event/stream``: ndjson frames of events, with ``{}`` heartbeats.

Faithful to Nomad (``command/agent/event_endpoint.go``, ``nomad/event_endpoint.go``,
``nomad/stream/event_broker.go``):

- the buffer holds the last ``event_buffer_size`` indexes (default 100); a resume
  ``index`` that fell out of it starts at the oldest one still held, silently;
- a heartbeat ``{}`` every ``event_heartbeat`` simulated seconds (Nomad: 30 s);
- a subscription the token's policies do not allow is refused with **500**
  "Permission denied" (the RPC's coded error; hashicorp/nomad#15493), and an unknown
  or expired token with 403 before the stream starts;
- a token deleted, or whose policies no longer allow the topics, closes the stream
  with "subscription closed by server, client should resubscribe"; a token that
  expired is checked before each batch of events and ends it with "ACL token expired".
  After the 200 and the first frames, Nomad can only append that text to the body
  (the status line is already sent), so that is what a client reads last.

Steering (tests): cut every stream (cleanly, or mid-frame with the connection dropped)
and stall streams (connected but silent, no heartbeats).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from . import acl
from .http import Reply, Request, Router, StreamAborted
from .jobops import ApiError
from .store import Event

NAMESPACED_TOPICS = ("Job", "Allocation", "Deployment", "Evaluation", "Service")
KNOWN_TOPICS = (
    *NAMESPACED_TOPICS,
    "Node",
    "NodeDrain",
    "NodePool",
    "ACLToken",
    "ACLPolicy",
    "ACLRole",
    "*",
)
SUBSCRIPTION_CLOSED = b"subscription closed by server, client should resubscribe"


def _topics(req: Request) -> dict[str, set[str]]:
    topics: dict[str, set[str]] = {}
    for raw in req.params.get("topic") or ["*:*"]:
        parts = raw.split(":")
        if len(parts) > 2:
            raise ApiError(
                400,
                "Invalid topic query: error parsing topics: "
                f"Invalid key value pair for topic, topic: {raw}",
            )
        name, key = parts[0], parts[1] if len(parts) == 2 else "*"
        if name not in KNOWN_TOPICS:
            raise ApiError(400, f'invalid topic "{name}"')
        topics.setdefault(name, set()).add(key or "*")
    return topics


def allows(grant: acl.Grant, topics: dict[str, set[str]], namespace: str) -> bool:
    """Nomad's ``aclAllowsSubscription``: every requested topic must be readable."""
    for name in topics:
        if name in NAMESPACED_TOPICS:
            if not grant.allow_namespace(namespace, "read-job"):
                return False
        elif name == "Node":
            if not grant.allow_coarse("node", "read"):
                return False
        elif not grant.management:
            return False
    return True


def _wanted(event: Event, topics: dict[str, set[str]], namespace: str, grant: acl.Grant) -> bool:
    keys = topics.get(event.topic) or topics.get("*")
    if keys is None:
        return False
    if "*" not in keys and event.key not in keys and not (keys & set(event.filter_keys)):
        return False
    if event.topic in NAMESPACED_TOPICS:
        if namespace != "*" and event.namespace != namespace:
            return False
        if not grant.allow_namespace(event.namespace, "read-job"):
            return False
    return True


class _Subscription:
    """One open stream: its token, topics, position and ACL re-checks."""

    def __init__(self, req: Request, topics: dict[str, set[str]], start: int) -> None:
        self.sim = req.sim
        self.secret = req.token
        self.topics = topics
        self.namespace = req.namespace
        self.grant = req.grant
        self.cursor = self.sim.store.event_buffer.subscribe(start)
        self.generation = self.sim.store.stream_generation

    def closed_reason(self) -> bytes | None:
        """Why the broker would force-close this subscription now (lock held)."""
        acls = self.sim.acls
        if not acls.enabled:
            return None
        token = acls.token_for_secret(self.secret) if self.secret else None
        if self.secret and token is None:
            return SUBSCRIPTION_CLOSED  # token deleted
        try:
            self.grant = acls.resolve(self.secret)
        except ApiError:
            return None  # expired: reported before the next events, as Nomad does
        if not allows(self.grant, self.topics, self.namespace):
            return SUBSCRIPTION_CLOSED  # its policies changed
        return None

    def expired(self) -> bool:
        token = self.sim.acls.token_for_secret(self.secret) if self.secret else None
        return bool(self.sim.acls.enabled and token and self.sim.acls.expired(token))

    def frames(self, items: list[Any]) -> Iterator[bytes]:
        for item in items:
            events = [
                e.to_api()
                for e in item.events
                if _wanted(e, self.topics, self.namespace, self.grant)
            ]
            if events:
                yield json.dumps({"Index": item.index, "Events": events}).encode() + b"\n"


def _stream(sub: _Subscription) -> Iterator[bytes]:
    sim = sub.sim
    store = sim.store
    interval = max(0.02, sim.clock.real_seconds(sim.event_heartbeat))
    next_beat = sim.clock.now() + sim.event_heartbeat
    while not sim.stopped.is_set():
        with store.changed:
            items = [] if store.streams_stalled else sub.cursor.take()
            if not items and store.stream_generation == sub.generation:
                store.changed.wait(interval)
                items = [] if store.streams_stalled else sub.cursor.take()
            cut = store.stream_generation != sub.generation
            mid_line = store.cut_mid_line
            closed = sub.closed_reason()
            expired = bool(items) and sub.expired()
            stalled = store.streams_stalled
        if cut:
            if mid_line:
                yield b'{"Index": 1, "Events": [{"Topic": "Allocation", "Ty'
                raise StreamAborted
            return
        if closed is not None:
            yield closed
            return
        if expired:
            yield acl.TOKEN_EXPIRED.encode()
            return
        yield from sub.frames(items)
        if stalled:
            continue
        if sim.clock.now() >= next_beat:
            next_beat = sim.clock.now() + sim.event_heartbeat
            yield b"{}\n"


def register(router: Router) -> None:
    @router.route("GET", "/v1/event/stream", locked=False)
    def stream(req: Request) -> Any:
        topics = _topics(req)
        try:
            start = int(req.q("index") or "0")
        except ValueError as exc:
            raise ApiError(400, f"Unable to parse index: {exc}") from None
        with req.sim.store.lock:
            if not allows(req.grant, topics, req.namespace):
                raise ApiError(500, acl.PERMISSION_DENIED)
            sub = _Subscription(req, topics, start)
        return Reply(stream=_stream(sub), content_type="application/json")
