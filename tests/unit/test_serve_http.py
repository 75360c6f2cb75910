"""The model routes' HTTP helpers: reading a body from ASGI, raw responses, coalesced writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from mlctl.serve.http import BodyTooLarge, RawResponse, receive_body
from mlctl.serve.protocol import CONTINUE, CoalescedWrites


def receiver(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def body_of(declared: str | None, limit: int, *messages: dict[str, Any]) -> bytes:
    return asyncio.run(receive_body(receiver(*messages), declared, limit))


def test_a_body_in_several_messages_is_joined_in_order() -> None:
    parts = [
        {"type": "http.request", "body": b'{"a": ', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b"1}", "more_body": False},
    ]
    assert body_of(None, 100, *parts) == b'{"a": 1}'
    assert body_of("3", 100, {"type": "http.request", "body": b"abc"}) == b"abc"
    assert body_of(None, 100, {"type": "http.request"}) == b""


def test_a_body_over_the_limit_is_refused_by_header_and_by_count() -> None:
    with pytest.raises(BodyTooLarge, match="of 101 bytes"):
        body_of("101", 100, {"type": "http.request", "body": b""})
    chunks = [{"type": "http.request", "body": b"x" * 60, "more_body": True}] * 2
    with pytest.raises(BodyTooLarge, match="over the limit of 100"):
        body_of("10", 100, *chunks)  # the header lied


def test_a_client_that_goes_away_mid_body_is_a_disconnect() -> None:
    with pytest.raises(ClientDisconnect):
        body_of(
            None,
            100,
            {"type": "http.request", "body": b"{", "more_body": True},
            {"type": "http.disconnect"},
        )


@pytest.mark.parametrize(
    ("status", "media_type", "headers"),
    [
        (200, "application/json", None),
        (200, "application/octet-stream", {"Inference-Header-Content-Length": "12"}),
        (204, "application/json", None),
    ],
)
def test_raw_responses_send_the_headers_starlette_would(
    status: int, media_type: str, headers: dict[str, str] | None
) -> None:
    raw = RawResponse(b'{"ok":1}', status, media_type=media_type, headers=headers)
    usual = Response(b'{"ok":1}', status, headers=headers, media_type=media_type)
    assert raw.raw_headers == usual.raw_headers
    assert (raw.body, raw.status_code, raw.background) == (usual.body, usual.status_code, None)


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_a_response_head_goes_out_with_its_body_in_one_write() -> None:
    real = RecordingTransport()
    writes = CoalescedWrites(real)  # type: ignore[arg-type]
    writes.write(CONTINUE)  # the client waits for this one: it is never held
    assert real.writes == [CONTINUE]
    writes.write(b"HEAD1 ")
    assert real.writes == [CONTINUE]
    writes.write(b"body1")
    writes.response_done()
    writes.write(b"HEAD2 ")  # a body-less answer (HEAD): sent when the response ends
    writes.response_done()
    writes.write(b"HEAD3 ")
    writes.write(b"chunk ")
    writes.write(b"chunk")  # streamed: later chunks are not held
    writes.response_done()
    writes.write(b"HEAD4 ")
    writes.close()  # a connection closed mid-response still sends what was held
    expected = [CONTINUE, b"HEAD1 body1", b"HEAD2 ", b"HEAD3 chunk ", b"chunk", b"HEAD4 "]
    assert real.writes == expected
    assert real.closed and writes.get_extra_info("peername") == "info:peername"
