"""Task logs of an allocation, read once or followed as a stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import requests

from mlctl.nomad.transport import Transport

LogType = Literal["stdout", "stderr"]


class Logs:
    """``/v1/client/fs/logs/:alloc_id`` with ``plain=true`` (raw bytes, not framed JSON)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def read(
        self,
        alloc_id: str,
        task: str,
        log_type: LogType = "stdout",
        *,
        follow: bool = False,
        tail_bytes: int | None = None,
    ) -> Iterator[bytes]:
        """Chunks of the log; with ``follow`` it keeps yielding until the caller stops.

        ``tail_bytes`` starts that many bytes before the end (``origin=end``), which is
        how Nomad's own CLI implements ``-tail``.
        """
        response = self.open(alloc_id, task, log_type, follow=follow, tail_bytes=tail_bytes)
        with response, self._t.mapped():
            yield from response.iter_content(chunk_size=None)

    def open(
        self,
        alloc_id: str,
        task: str,
        log_type: LogType = "stdout",
        *,
        follow: bool = False,
        tail_bytes: int | None = None,
    ) -> requests.Response:
        """The streaming response itself, for callers that must end a follow from another
        thread (``response.raw.shutdown()`` interrupts a blocked read)."""
        params: dict[str, str | int] = {
            "task": task,
            "type": log_type,
            "plain": "true",
            "follow": "true" if follow else "false",
        }
        if tail_bytes is not None:
            params.update(origin="end", offset=tail_bytes)
        return self._t.request(
            "get",
            "client",
            "fs",
            "logs",
            alloc_id,
            params=params,
            stream=True,
            # Following: connecting may time out, waiting for the next line never does
            # (a quiet task writes nothing for hours, and plain logs carry no heartbeat).
            timeout=(self._t.timeout, None) if follow else self._t.timeout,  # type: ignore[arg-type]
        )
