"""Following task logs: one allocation, or every allocation of a model merged.

A :class:`LogFollower` runs in a worker thread, reading ``/v1/client/fs/logs`` with
``follow=true`` through mlctl's Nomad facade, and hands each chunk to a sink. It can be
stopped from the UI thread at any moment: :meth:`LogFollower.stop` shuts the socket
down, which ends the blocked read at once (no thread is left waiting on a quiet log).

Logs of the previous instance (k9s's ``-p``) are a read without ``follow`` of the
allocation Nomad replaced (``PreviousAllocation``), or, for a task restarted in place,
of the same allocation further back: Nomad appends every run of a task to one log.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

import requests

from mlctl.errors import MlctlError
from mlctl.nomad.client import NomadClient
from mlctl.nomad.logs import LogType

#: Bytes of history fetched when a follow starts (Nomad's CLI uses the same idea for -tail).
TAIL_BYTES = 64 * 1024
#: Bytes read of a previous instance's log (its end: how it stopped).
PREVIOUS_BYTES = 1024 * 1024

Sink = Callable[[str, str, bytes], None]  #: (source, stream, chunk)
Ended = Callable[[str, str, str], None]  #: (source, stream, why; "" when stopped)


@dataclass(frozen=True)
class LogTarget:
    alloc_id: str
    task: str
    stream: LogType
    source: str  #: the prefix shown in merged views (the short allocation ID)
    follow: bool = True  #: False: read what is there and end (a previous instance)
    tail_bytes: int = TAIL_BYTES  #: how much of the log's end to start with


class LogFollower:
    """Follows one task log until stopped or the stream ends."""

    def __init__(
        self,
        client: NomadClient,
        target: LogTarget,
        sink: Sink,
        ended: Ended,
    ) -> None:
        self.client = client
        self.target = target
        self._sink = sink
        self._ended = ended
        self._stop = threading.Event()
        self._response: requests.Response | None = None
        self._lock = threading.Lock()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """The worker body: read until stopped; report why it ended."""
        target = self.target
        why = ""
        try:
            response = self.client.logs.open(
                target.alloc_id,
                target.task,
                target.stream,
                follow=target.follow,
                tail_bytes=target.tail_bytes,
            )
            with self._lock:
                self._response = response
                if self._stop.is_set():
                    response.close()
                    return
            with response, self.client.transport.mapped():
                for chunk in response.iter_content(chunk_size=None):
                    if self._stop.is_set():
                        break
                    if chunk:
                        self._sink(target.source, target.stream, chunk)
            if not self._stop.is_set():
                why = (
                    "the log stream ended (the task stopped or Nomad closed it)"
                    if target.follow
                    else "end of the log"
                )
        except MlctlError as error:
            why = error.one_line()
        except (requests.RequestException, OSError, ValueError) as error:
            why = f"the log stream broke: {error}"
        finally:
            self._ended(target.source, target.stream, "" if self._stop.is_set() else why)

    def stop(self) -> None:
        """End the follow now (safe from any thread, any number of times)."""
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            # Wakes a read blocked on a silent log; a read that already ended has given
            # its connection back to the pool (RuntimeError): nothing to wake then.
            with contextlib.suppress(AttributeError, OSError, ValueError, RuntimeError):
                response.raw.shutdown()
            response.close()
