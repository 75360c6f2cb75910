"""Variable locks (Nomad >= 1.7): ``PUT /v1/var/:path?lock-acquire|lock-renew|lock-release``.

Facts from Nomad's source (``nomad/variables_endpoint.go``, ``nomad/locks.go``,
``nomad/state/state_store_variables.go``, ``nomad/structs/variables.go``,
``command/agent/variable_endpoint.go``):

- A lock is the ``Lock: {ID, TTL, LockDelay}`` of a variable; TTL and LockDelay are Go
  duration strings in JSON (numbers are read as nanoseconds), default 15s each, and
  TTL must lie in [10s, 24h]. Acquire creates the variable if missing and *replaces
  its items* with the request's (none is fine); the server generates the ID.
- The server's TTL timer runs for **2 x TTL** (grace for the client); a renew resets it.
  When it fires, the lock is lost (renews answer 409) but stays on the variable for
  LockDelay, so nobody acquires it at once; then the lock is removed from the variable
  (items kept, ModifyIndex bumped). A release removes it at once (no delay).
- A variable that holds a lock refuses a plain write, a CAS write and an acquire that
  do not carry its lock ID (409 with an empty variable as the body), and every delete
  (the HTTP delete carries no lock ID).
- Reads and lists show ``Lock`` to management tokens only; a write or acquire answer
  shows it to the holder (matching ID) or a management token.
- Timers are not stored: a restarted server (new leader) gives every held lock a
  fresh 2 x TTL (``restoreLockTTLTimers``), as :meth:`LockTimers.restore` does here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from .durations import format_duration, parse_duration
from .jobops import ApiError

JSON = dict[str, Any]
SECOND = 1_000_000_000
MIN_TTL = 10 * SECOND
MAX_TTL = 24 * 3600 * SECOND
DEFAULT_TTL = 15 * SECOND
DEFAULT_DELAY = 15 * SECOND

ACQUIRE = "lock-acquire"
RENEW = "lock-renew"
RELEASE = "lock-release"
OPERATIONS = (RENEW, ACQUIRE, RELEASE)

ERR_NEGATIVE = "Lock delay and TTL must be positive"
ERR_TTL = "TTL must be between 10 seconds and 24 hours"
ERR_LOCKED = "attempting to modify locked variable"
ERR_NO_LOCK = "variable doesn't hold a lock"
ERR_NO_VAR = "variable doesn't exist"
ERR_MISSING_INFO = "missing lock information"
ERR_ITEMS_ON_RELEASE = "lock release operation doesn't take variable items"
ERR_LOCK_ON_WRITE = "variable should not contain lock definition"


def multierror(messages: list[str]) -> str:
    """Go's hashicorp/go-multierror text, which Nomad puts in these answers verbatim."""
    noun = "error" if len(messages) == 1 else "errors"
    body = "".join(f"\n\t* {m}" for m in messages)
    return f"{len(messages)} {noun} occurred:{body}\n\n"


def rpc_coded(code: int, message: str) -> str:
    """The text of ``structs.NewErrRPCCoded``; Nomad wraps some messages twice."""
    return f"RPC Error:: {code},{message}"


def operation(params: dict[str, list[str]]) -> str | None:
    """Which lock operation the query names (None: a plain write)."""
    named = [op for op in OPERATIONS if op in params]
    if not named:
        return None
    if len(named) > 1:
        raise ApiError(400, "multiple lock operations")
    return named[0]


def _duration(value: Any) -> int:
    """A TTL/LockDelay from JSON: a Go duration string or nanoseconds."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ApiError(400, f"json: cannot unmarshal bool into a duration: {value}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as error:
            raise ApiError(400, str(error)) from None
    raise ApiError(400, f"json: cannot unmarshal {type(value).__name__} into a duration")


@dataclass(frozen=True)
class LockRequest:
    """The ``Lock`` object of a request body, as Go would decode it."""

    id: str = ""
    ttl: int = 0
    delay: int = 0
    present: bool = False

    @classmethod
    def of(cls, body: JSON) -> LockRequest:
        raw = body.get("Lock")
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ApiError(400, "json: cannot unmarshal Lock: want an object")
        lock_id = raw.get("ID") or ""
        if not isinstance(lock_id, str):
            raise ApiError(400, "json: cannot unmarshal Lock.ID: want a string")
        return cls(lock_id, _duration(raw.get("TTL")), _duration(raw.get("LockDelay")), True)

    def canonical(self) -> JSON:
        """``VariableLock.Canonicalize``: a new ID when none, 15s defaults."""
        return {
            "ID": self.id or str(uuid.uuid4()),
            "TTL": format_duration(self.ttl or DEFAULT_TTL),
            "LockDelay": format_duration(self.delay or DEFAULT_DELAY),
        }

    def validate_for_acquire(self) -> None:
        ttl, delay = self.ttl or DEFAULT_TTL, self.delay or DEFAULT_DELAY
        problems = []
        if ttl < 0 or delay < 0:
            problems.append(ERR_NEGATIVE)
        if ttl > MAX_TTL or ttl < MIN_TTL:
            problems.append(ERR_TTL)
        if problems:
            # canonicalizeAndValidate codes it 400, then Apply codes that text again.
            raise ApiError(400, rpc_coded(400, multierror(problems)))


def held_by(var: JSON | None) -> str:
    """The lock ID a variable holds ("" when none)."""
    lock = (var or {}).get("Lock")
    return str(lock.get("ID") or "") if isinstance(lock, dict) else ""


def empty_conflict(namespace: str, path: str, with_lock: bool = False) -> JSON:
    """The zero-value variable Nomad answers a refused locked operation with."""
    out: JSON = {
        "Namespace": namespace,
        "Path": path,
        "CreateIndex": 0,
        "CreateTime": 0,
        "ModifyIndex": 0,
        "ModifyTime": 0,
    }
    if with_lock:
        out["Lock"] = {"ID": "", "TTL": "", "LockDelay": ""}
    return out


class LockConflict(ApiError):
    """409 whose body is a variable (not an error text)."""

    def __init__(self, body: JSON) -> None:
        super().__init__(409, "lock conflict")
        self.body = body


@dataclass
class _Timer:
    key: tuple[str, str]
    ttl_deadline: float  #: engine seconds when the lock is lost unless renewed
    delay: float  #: seconds the lock stays on the variable after it is lost
    lost_at: float | None = None  #: set once the TTL ran out


class LockTimers:
    """TTL timers (2 x TTL) and lock-delay timers on the engine's clock, by lock ID."""

    def __init__(self) -> None:
        self._timers: dict[str, _Timer] = {}

    def create(self, lock_id: str, key: tuple[str, str], lock: JSON, now: float) -> None:
        if lock_id in self._timers and self._timers[lock_id].lost_at is None:
            return  # Nomad logs "attempting to recreate existing lock" and keeps it
        ttl = parse_duration(str(lock.get("TTL") or "15s")) / SECOND
        delay = parse_duration(str(lock.get("LockDelay") or "15s")) / SECOND
        self._timers[lock_id] = _Timer(key, now + 2 * ttl, delay)

    def renew(self, lock_id: str, lock: JSON, now: float) -> bool:
        """Reset the TTL timer; False when the lock has no running timer (lost)."""
        timer = self._timers.get(lock_id)
        if timer is None or timer.lost_at is not None:
            return False
        ttl = parse_duration(str(lock.get("TTL") or "15s")) / SECOND
        timer.ttl_deadline = now + 2 * ttl
        return True

    def remove(self, lock_id: str) -> None:
        self._timers.pop(lock_id, None)

    def due(self, now: float) -> list[tuple[str, tuple[str, str]]]:
        """Advance every timer to ``now``; the locks whose delay ended (to be removed)."""
        out = []
        for lock_id, timer in list(self._timers.items()):
            if timer.lost_at is None and now >= timer.ttl_deadline:
                timer.lost_at = timer.ttl_deadline
            if timer.lost_at is not None and now >= timer.lost_at + timer.delay:
                del self._timers[lock_id]
                out.append((lock_id, timer.key))
        return out

    def next_deadline(self) -> float | None:
        moments = [
            t.ttl_deadline if t.lost_at is None else t.lost_at + t.delay
            for t in self._timers.values()
        ]
        return min(moments) if moments else None

    def restore(self, variables: dict[tuple[str, str], JSON], now: float) -> None:
        """A fresh 2 x TTL for every lock held (Nomad's ``restoreLockTTLTimers``)."""
        self._timers.clear()
        for key, var in variables.items():
            lock_id = held_by(var)
            if lock_id:
                self.create(lock_id, key, var["Lock"], now)
