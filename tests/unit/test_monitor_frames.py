"""Event-stream lines and the backoff schedule (pure)."""

from __future__ import annotations

import pytest

from mlctl.monitor.backoff import Backoff
from mlctl.monitor.frames import Batch, Ending, Heartbeat, ServerEnded, parse_line


def test_heartbeats_and_frames() -> None:
    assert isinstance(parse_line(b"{}"), Heartbeat)
    frame = parse_line(b'{"Index": 7, "Events": [{"Topic": "Job"}]}')
    assert isinstance(frame, Batch) and frame.index == 7 and frame.events == [{"Topic": "Job"}]


@pytest.mark.parametrize(
    ("line", "ending"),
    [
        (b"subscription closed by server, client should resubscribe", Ending.RESUBSCRIBE),
        (b"ACL token expired", Ending.TOKEN_EXPIRED),
        (b"ACL token not found", Ending.TOKEN_EXPIRED),
        (b"Permission denied", Ending.REFUSED),
        (b"rpc error: No cluster leader", Ending.BROKEN),
        (b'{"Index": 3, "Eve', Ending.BROKEN),  # a frame cut in the middle
        (b'{"Index": 3}', Ending.BROKEN),
    ],
)
def test_what_the_server_said_at_the_end(line: bytes, ending: Ending) -> None:
    frame = parse_line(line)
    assert isinstance(frame, ServerEnded) and frame.ending is ending


def test_backoff_grows_is_capped_jittered_and_resets() -> None:
    backoff = Backoff(base=1.0, cap=8.0, rand=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0
    low = Backoff(base=1.0, cap=8.0, rand=lambda: 0.0)
    assert low.next_delay() == 0.5  # never less than half: no tight loop


def test_backoff_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="0 < base <= cap"):
        Backoff(base=0, cap=1)
