"""Lines of ``/v1/event/stream`` -> what they mean (pure).

The body is ndjson: ``{"Index": n, "Events": [...]}`` frames and ``{}`` heartbeats.
When Nomad ends a subscription after it started, the status line is already sent, so
the reason is appended to the body as plain text: "subscription closed by server,
client should resubscribe" (token deleted or its policies changed), "ACL token
expired", or "Permission denied". Anything else that does not parse is treated as a
broken stream (reconnect and resync), never as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson


class Ending(StrEnum):
    """Why the server ended a stream, and so what the client does next."""

    RESUBSCRIBE = "resubscribe"  #: refresh the token, subscribe again
    TOKEN_EXPIRED = "token-expired"  # noqa: S105 - a state name: refresh the token, resubscribe
    REFUSED = "refused"  #: no permission for the stream: fall back to polling
    BROKEN = "broken"  #: garbage or an unknown error: reconnect with backoff


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class Batch:
    index: int
    events: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ServerEnded:
    ending: Ending
    text: str


Frame = Heartbeat | Batch | ServerEnded

HEARTBEAT = Heartbeat()


def classify_text(text: str) -> Ending:
    """What a plain-text error from Nomad (in a body or a 4xx/5xx answer) asks us to do."""
    lowered = text.lower()
    if "subscription closed by server" in lowered:
        return Ending.RESUBSCRIBE
    if "token expired" in lowered or "token not found" in lowered:
        return Ending.TOKEN_EXPIRED
    if "permission denied" in lowered:
        return Ending.REFUSED
    return Ending.BROKEN


def parse_line(line: bytes) -> Frame:
    """One line of the stream (without its newline)."""
    stripped = line.strip()
    if stripped == b"{}":
        return HEARTBEAT
    if stripped.startswith(b"{"):
        try:
            data = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return ServerEnded(Ending.BROKEN, "a frame that is not JSON")
        if isinstance(data, dict) and not data:
            return HEARTBEAT
        if isinstance(data, dict) and isinstance(data.get("Events"), list):
            return Batch(int(data.get("Index") or 0), data["Events"])
        return ServerEnded(Ending.BROKEN, "a frame without Events")
    text = stripped.decode("utf-8", "replace")[:500]
    return ServerEnded(classify_text(text), text)
