"""Follow the cluster: the event stream, a REST resync on every (re)connect, and a
blocking-query polling fallback, all writing into the same :class:`Store`.

Why each step (Nomad's event buffer is small and in memory, and a resume ``index``
that fell out of it is silently skipped):

1. Open ``/v1/event/stream`` first (resuming at the Store's index), so every change
   from now on is held for us by the server.
2. Resync every kind from REST listings; objects are deduplicated by ``ModifyIndex``
   and the listing's index marks what is gone. Whatever the gap, nothing is lost.
3. Consume the stream. Its read timeout is two heartbeat periods: a silent stream is
   dead and is reconnected. "subscription closed by server" and an expired token
   refresh the token and resubscribe; a refused stream (403, or 500 "Permission
   denied") switches to polling the same listings with blocking queries, and the
   stream is tried again later. Every failure waits a bounded, jittered backoff.

Side work that must not stall the stream (service registrations of jobs whose
allocations started or stopped, existence checks after ``JobDeregistered``) runs on
a worker thread of its own.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from mlctl.errors import MlctlError
from mlctl.monitor import frames, reader
from mlctl.monitor.backoff import Backoff
from mlctl.monitor.clock import Clock
from mlctl.monitor.frames import Batch, Ending, Heartbeat, ServerEnded
from mlctl.monitor.store import KINDS, Store
from mlctl.monitor.tokens import TokenSource
from mlctl.monitor.views import ModelKey
from mlctl.nomad.client import NomadClient

TOPICS = ("Job", "Allocation", "Deployment", "Evaluation", "Node", "Service")
#: Events applied between two freezes of the long-lived heap (see ``resync``).
FREEZE_EVERY = 5000
Connect = Callable[[str | None], NomadClient]
Log = Callable[[str], None]


@dataclass(frozen=True)
class FollowerOptions:
    heartbeat_timeout: float = 65.0
    """Seconds without a byte after which the stream is dead (two of Nomad's 30 s
    heartbeats, plus slack)."""
    poll_wait: float = 30.0
    """Longest wait of one blocking query in polling mode."""
    stream_retry: float = 300.0
    """In polling mode, try the event stream again after this many seconds."""
    publish_interval: float = 0.05
    """At most this often, subscribers of the Store hear about changes."""
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    connect_timeout: float = 10.0


@dataclass
class FollowerStats:
    events: int = 0
    frames: int = 0
    heartbeats: int = 0
    resyncs: int = 0
    connects: int = 0
    mode: str = "connecting"
    endings: dict[str, int] = field(default_factory=dict)


class _Refused(Exception):
    """The stream is not allowed for this token: poll instead."""


class Follower:
    """Keeps a :class:`Store` in step with Nomad until ``stop`` is set."""

    def __init__(
        self,
        store: Store,
        connect: Connect,
        tokens: TokenSource,
        clock: Clock,
        log: Log = lambda _line: None,
        options: FollowerOptions | None = None,
    ) -> None:
        self.store = store
        self._connect = connect
        self.tokens = tokens
        self.clock = clock
        self.log = log
        self.options = options or FollowerOptions()
        self.stats = FollowerStats()
        self._backoff = Backoff(self.options.backoff_base, self.options.backoff_cap)
        self._clients: dict[str | None, NomadClient] = {}
        self._clients_lock = threading.Lock()
        self._side: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._side_pending: set[tuple[str, Any]] = set()
        self._side_lock = threading.Lock()
        self._last_publish = 0.0
        self._response: requests.Response | None = None
        self._since_freeze = 0

    def close(self) -> None:
        """Drop the open stream now (used when stopping: reads block up to the timeout)."""
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()

    # ------------------------------------------------------------------ clients

    def client(self) -> NomadClient:
        """A client carrying the current token (cached per token)."""
        token = self.tokens.current()
        with self._clients_lock:
            client = self._clients.get(token)
            if client is None:
                self._clients = {token: self._connect(token)}  # drop clients of old tokens
                client = self._clients[token]
            return client

    # ------------------------------------------------------------------ main loop

    def run(self, stop: threading.Event) -> None:
        """Follow until ``stop`` is set; never raises for Nomad's failures."""
        side = threading.Thread(
            target=self._side_worker, args=(stop,), name="monitor-side", daemon=True
        )
        side.start()
        while not stop.is_set():
            try:
                ending = self._follow_stream(stop)
            except _Refused as refused:
                self._lost(f"event stream refused ({refused}); polling with blocking queries")
                self._poll(stop)
                continue
            except Exception as error:  # every failure is retried; the loop never dies
                ending = ServerEnded(Ending.BROKEN, reader.describe(error))
            if ending is None or stop.is_set():
                break
            self.stats.endings[ending.ending] = self.stats.endings.get(ending.ending, 0) + 1
            self._lost(f"event stream ended: {ending.text}")
            if ending.ending in (Ending.RESUBSCRIBE, Ending.TOKEN_EXPIRED):
                self._refresh_token()
                if ending.ending is Ending.RESUBSCRIBE:
                    continue  # Nomad asks us to resubscribe: at once
            stop.wait(self._backoff.next_delay())
        self.store.publish()

    def _lost(self, why: str) -> None:
        self.store.set_connection(False, "connecting", at=self.clock(), error=why)
        self.stats.mode = "connecting"
        self.log(why)
        self._publish(force=True)

    def _refresh_token(self) -> None:
        try:
            self.tokens.refresh()
        except Exception as error:
            self.log(f"cannot renew the Nomad token: {reader.describe(error)}")

    # ------------------------------------------------------------------ stream mode

    def _open(self, client: NomadClient) -> requests.Response:
        index = self.store.index
        params = {"namespace": "*", "topic": list(TOPICS), "index": index + 1 if index else 0}
        try:
            return client.transport.request(
                "get",
                "event",
                "stream",
                params=params,
                stream=True,
                timeout=(self.options.connect_timeout, self.options.heartbeat_timeout),  # type: ignore[arg-type]
            )
        except MlctlError as error:
            answer = reader.http_answer(error)
            if answer is not None:
                status, text = answer
                ending = frames.classify_text(text)
                if ending is Ending.REFUSED or (status == 403 and ending is Ending.BROKEN):
                    raise _Refused(f"HTTP {status}: {text.strip()[:200]}") from error
            raise

    def _follow_stream(self, stop: threading.Event) -> ServerEnded | None:
        client = self.client()
        try:
            response = self._open(client)
        except MlctlError as error:
            answer = reader.http_answer(error)
            if answer is not None and frames.classify_text(answer[1]) is Ending.TOKEN_EXPIRED:
                return ServerEnded(Ending.TOKEN_EXPIRED, answer[1].strip()[:200])
            raise
        self._response = response
        with response:
            self.stats.connects += 1
            self.resync(client)
            self.store.set_connection(True, "stream")
            self.stats.mode = "stream"
            self._backoff.reset()
            self.log("following the event stream")
            self._publish(force=True)
            return self._consume(response, stop)

    def _consume(self, response: requests.Response, stop: threading.Event) -> ServerEnded | None:
        try:
            for line in response.iter_lines(chunk_size=65536):
                if stop.is_set():
                    return None
                if not line:
                    continue
                frame = frames.parse_line(line)
                if isinstance(frame, Heartbeat):
                    self.stats.heartbeats += 1
                    self._publish(force=True)
                elif isinstance(frame, Batch):
                    self._apply(frame)
                else:
                    return frame
        except requests.exceptions.RequestException as error:
            if stop.is_set():
                return None
            return ServerEnded(Ending.BROKEN, _stream_error(error))
        return ServerEnded(Ending.BROKEN, "the server closed the stream")

    def _apply(self, batch: Batch) -> None:
        self.stats.frames += 1
        self._since_freeze += len(batch.events)
        if self._since_freeze >= FREEZE_EVERY:
            self._freeze()  # keeps each garbage collection small (see resync)
        store = self.store
        for event in batch.events:
            self.stats.events += 1
            topic = event.get("Topic")
            if topic == "Allocation":
                self._note_allocation(event)
            elif topic == "Service":
                service = (event.get("Payload") or {}).get("Service") or {}
                self._queue(("endpoints", (service.get("Namespace"), service.get("JobID"))))
            elif topic == "Job" and event.get("Type") == "JobDeregistered":
                job = (event.get("Payload") or {}).get("Job") or {}
                key = (str(job.get("Namespace") or "default"), str(job.get("ID") or ""))
                self._queue(("job", (key, int(event.get("Index") or 0))))
            store.apply_event(event)
        self._publish()

    def _note_allocation(self, event: dict[str, Any]) -> None:
        """Refresh a job's endpoints when one of its allocations starts or stops running."""
        alloc = (event.get("Payload") or {}).get("Allocation") or {}
        running = alloc.get("ClientStatus") == "running" and alloc.get("DesiredStatus") == "run"
        before = self.store.alloc_running(str(alloc.get("ID") or ""))
        if before is None and not running:
            return
        if before != running:
            key = (str(alloc.get("Namespace") or "default"), str(alloc.get("JobID") or ""))
            self._queue(("endpoints", key))

    def _publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_publish >= self.options.publish_interval:
            self._last_publish = now
            self.store.publish()

    # ------------------------------------------------------------------ resync

    def resync(self, client: NomadClient) -> None:
        """Load every kind from REST (see the module docstring)."""
        for kind in KINDS:
            self._resync_kind(client, kind)
        self.stats.resyncs += 1
        self._queue(("endpoints", "*"))
        # The Store's views are long-lived and free of reference cycles (refcounting
        # frees replaced ones): collect once, then keep them out of the cyclic
        # collector's full passes, which otherwise cost ~15% of applying events.
        self._freeze()

    def _freeze(self) -> None:
        gc.collect()
        gc.freeze()
        self._since_freeze = 0

    def _resync_kind(self, client: NomadClient, kind: str, index: int = 0) -> int:
        if kind == "jobs":
            objects, list_index = reader.fetch_jobs(
                client, self.store.job_index, index, self.options.poll_wait
            )
        else:
            objects, list_index = reader.fetch_list(client, kind, index, self.options.poll_wait)
        self.store.resync(kind, objects, list_index)
        return list_index

    # ------------------------------------------------------------------ polling mode

    def _poll(self, stop: threading.Event) -> None:
        """Blocking-query polling of every kind until ``stop`` or time to retry the stream."""
        self.stats.mode = "polling"
        poll_stop = threading.Event()
        threads = [
            threading.Thread(
                target=self._poll_kind,
                args=(kind, stop, poll_stop),
                name=f"monitor-poll-{kind}",
                daemon=True,
            )
            for kind in KINDS
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + self.options.stream_retry
        while not stop.is_set() and time.monotonic() < deadline:
            if self.store.snapshot().synced and not self.store.snapshot().connected:
                self.store.set_connection(True, "polling")
                self._queue(("endpoints", "*"))
            stop.wait(0.1)
        poll_stop.set()

    def _poll_kind(self, kind: str, stop: threading.Event, poll_stop: threading.Event) -> None:
        backoff = Backoff(self.options.backoff_base, self.options.backoff_cap)
        index = 0
        while not (stop.is_set() or poll_stop.is_set()):
            try:
                index = self._resync_kind(self.client(), kind, index)
                backoff.reset()
                if kind == "allocs":  # no events here: any allocation may have moved
                    self._queue(("endpoints", "*"))
                self._publish(force=True)
            except Exception as error:
                self.log(f"polling {kind} failed: {reader.describe(error)}")
                answer = reader.http_answer(error)
                if answer and frames.classify_text(answer[1]) is Ending.TOKEN_EXPIRED:
                    self._refresh_token()
                index = 0
                stop.wait(backoff.next_delay())

    # ------------------------------------------------------------------ side work

    def _queue(self, task: tuple[str, Any]) -> None:
        with self._side_lock:
            if task in self._side_pending:
                return
            self._side_pending.add(task)
        self._side.put(task)

    def _side_worker(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                task = self._side.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._side_lock:
                self._side_pending.discard(task)
            try:
                self._side_task(task)
            except Exception as error:
                self.log(f"{task[0]} refresh failed: {reader.describe(error)}")
                if task[0] == "endpoints":
                    with contextlib.suppress(Exception):
                        stop.wait(1.0)
                        self._queue(task)

    def _side_task(self, task: tuple[str, Any]) -> None:
        kind, arg = task
        client = self.client()
        if kind == "endpoints":
            keys = self.store.job_keys() if arg == "*" else [arg]
            for key in keys:
                self._refresh_endpoints(client, key)
            self._publish(force=True)
        elif kind == "job":
            key, index = arg
            job = reader.fetch_job(client, *key)
            if job is None:
                self.store.remove("jobs", key, index)
            else:
                self.store.apply("jobs", job)
            self._publish(force=True)

    def _refresh_endpoints(self, client: NomadClient, key: ModelKey) -> None:
        job = self.store.job(key)
        if job is None or not job.services:
            self.store.set_endpoints(key, [])
            return
        self.store.set_endpoints(key, reader.fetch_endpoints(client, job))


def _stream_error(error: BaseException) -> str:
    if isinstance(error, requests.exceptions.ConnectionError) and "Read timed out" in str(error):
        return "no data or heartbeat for two heartbeat periods (stream dead)"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "connection dropped mid-stream"
    return f"{type(error).__name__}: {error}"
