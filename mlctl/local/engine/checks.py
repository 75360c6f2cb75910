"""Service checks of the Nomad service provider, run for real against the tasks.

Each ``check`` of a ``provider = "nomad"`` service runs every ``interval`` (the first
time as soon as the task runs), with its ``timeout``: ``http`` checks pass on a 2xx
answer, ``tcp`` checks when the port accepts a connection.  Results have the shape
of ``GET /v1/allocation/:id/checks``; the lifecycle reads :meth:`Checker.passing_since`
to decide deployment health (``update { health_check = "checks" }``).  Checks whose
``on_update`` is ``ignore`` are readiness checks and never block health.

One scheduler thread keeps a heap of due checks and hands them to a small thread
pool, so a slow check never delays the others and an idle runtime sleeps.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
WORKERS = 4


@dataclass(frozen=True)
class CheckSpec:
    """One check of one allocation, with its address resolved."""

    alloc_id: str
    alloc_name: str
    service: str
    name: str
    kind: str  # http | tcp
    address: str
    port: int
    path: str
    method: str
    headers: tuple[tuple[str, str], ...]
    interval: float
    timeout: float
    readiness: bool

    @property
    def id(self) -> str:
        raw = f"{self.alloc_id}|{self.service}|{self.name}|{self.kind}|{self.path}"
        return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


@dataclass
class _State:
    spec: CheckSpec
    result: JSON | None = None
    passing_since: float | None = None
    generation: int = 0


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    key: tuple[str, str] = field(compare=False)
    generation: int = field(compare=False)


def specs_for(alloc: JSON, group: JSON, ports: list[JSON], ip: str) -> list[CheckSpec]:
    """The checks of an allocation's nomad-provider services (group and task level)."""
    services = [*(group.get("Services") or [])]
    for task in group.get("Tasks") or []:
        services += task.get("Services") or []
    out = []
    by_label = {p["Label"]: int(p["Value"]) for p in ports}
    for service in services:
        if service.get("Provider") != "nomad":
            continue
        for index, check in enumerate(service.get("Checks") or []):
            kind = check.get("Type") or ""
            if kind not in ("http", "tcp"):
                continue  # script/grpc checks are not run by mlctl local
            label = check.get("PortLabel") or service.get("PortLabel") or ""
            port = int(label) if label.isdigit() else by_label.get(label, 0)
            headers = tuple(
                (k, v) for k, values in (check.get("Header") or {}).items() for v in values
            )
            on_update = check.get("OnUpdate") or service.get("OnUpdate") or "require_healthy"
            out.append(
                CheckSpec(
                    alloc_id=alloc["ID"],
                    alloc_name=alloc["Name"],
                    service=service["Name"],
                    name=check.get("Name") or f'service: "{service["Name"]}" check {index}',
                    kind=kind,
                    address=ip,
                    port=port,
                    path=check.get("Path") or "/",
                    method=check.get("Method") or "GET",
                    headers=headers,
                    interval=max(1.0, (check.get("Interval") or 10_000_000_000) / 1e9),
                    timeout=max(0.1, (check.get("Timeout") or 2_000_000_000) / 1e9),
                    readiness=on_update == "ignore",
                )
            )
    return out


def run_check(spec: CheckSpec) -> tuple[bool, str, int]:
    """Run one check now: (passed, output, HTTP status code or 0).

    HTTP checks send one HTTP/1.0 request and read only the status line: a check
    runs every second for every replica, so it must cost next to nothing.
    """
    try:
        with socket.create_connection((spec.address, spec.port), timeout=spec.timeout) as sock:
            if spec.kind == "tcp":
                return True, "nomad: tcp ok", 0
            sock.settimeout(spec.timeout)
            sock.sendall(_request(spec))
            status_line = _read_status_line(sock)
    except OSError as exc:
        where = f"{spec.address}:{spec.port}"
        return False, f"{spec.kind} {where}: {exc.strerror or exc}", 0
    try:
        code = int(status_line.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return False, f"nomad: not an HTTP answer: {status_line[:60]!r}", 0
    if 200 <= code < 300:
        return True, "nomad: http ok", code
    return False, f"nomad: http status {code}", code


def _request(spec: CheckSpec) -> bytes:
    lines = [f"{spec.method} {spec.path} HTTP/1.0", f"Host: {spec.address}:{spec.port}"]
    lines += ["User-Agent: Nomad Health Check", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in spec.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _read_status_line(sock: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < 1024:
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


class Checker:
    """Runs registered checks on schedule; thread-safe; ``stop()`` ends the threads."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._states: dict[tuple[str, str], _State] = {}
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="checks")
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="checks", daemon=True)
        self._thread.start()

    def register(self, specs: list[CheckSpec]) -> None:
        """(Re)start checking these specs now; previous results of the same checks reset."""
        with self._lock:
            for spec in specs:
                key = (spec.alloc_id, spec.id)
                state = self._states.get(key)
                generation = state.generation + 1 if state else 0
                self._states[key] = _State(spec, generation=generation)
                heapq.heappush(self._heap, _Due(time.monotonic(), next(self._seq), key, generation))
            self._wake.notify()

    def unregister(self, alloc_id: str) -> None:
        with self._lock:
            for key in [k for k in self._states if k[0] == alloc_id]:
                del self._states[key]

    def results(self, alloc_id: str) -> dict[str, JSON]:
        with self._lock:
            return {
                key[1]: dict(state.result)
                for key, state in self._states.items()
                if key[0] == alloc_id and state.result is not None
            }

    def passing_since(self, alloc_id: str) -> tuple[bool, float | None]:
        """(has checks, since when every health-deciding check passes or None)."""
        with self._lock:
            states = [s for k, s in self._states.items() if k[0] == alloc_id]
            deciding = [s for s in states if not s.spec.readiness]
            if not deciding:
                return bool(states), None
            if any(s.passing_since is None for s in deciding):
                return True, None
            return True, max(s.passing_since for s in deciding if s.passing_since is not None)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        with self._lock:
            while not self._stopped:
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0].at - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                due = heapq.heappop(self._heap)
                state = self._states.get(due.key)
                if state is None or state.generation != due.generation:
                    continue  # unregistered or re-registered since
                self._pool.submit(self._run, due.key, state.spec, due.generation)

    def _run(self, key: tuple[str, str], spec: CheckSpec, generation: int) -> None:
        passed, output, code = run_check(spec)
        now = self._clock()
        with self._lock:
            state = self._states.get(key)
            if state is None or state.generation != generation or self._stopped:
                return
            if passed and state.passing_since is None:
                state.passing_since = time.monotonic()
            elif not passed:
                state.passing_since = None
            state.result = {
                "Check": spec.name,
                "Group": spec.alloc_name,
                "ID": spec.id,
                "Mode": "readiness" if spec.readiness else "healthiness",
                "Output": output,
                "Service": spec.service,
                "Status": "success" if passed else "failure",
                "StatusCode": code,
                "Task": "",
                "Timestamp": int(now),
            }
            heapq.heappush(
                self._heap, _Due(time.monotonic() + spec.interval, next(self._seq), key, generation)
            )
            self._wake.notify()
