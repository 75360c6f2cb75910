"""The issuer's JSON Web Key Set, as the model server holds it (issue 15).

Fetched off the event loop (a daemon thread per fetch, so stopping never waits for one)
at start, with retries until it succeeds; again every few minutes, so a key removed
from the set stops being trusted; and when a token names a key id the set does not hold
(a rotated key) — but at most once per :data:`MIN_REFRESH_SECONDS`, however many
unknown ids arrive, so forged ``kid`` values cannot make the server hammer Vault.
Concurrent callers share one fetch; a failed fetch keeps the keys already held.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import requests
from joserfc.jwk import KeySet

MAX_JWKS_BYTES = 1 << 20
FETCH_TIMEOUT = (5.0, 5.0)  # connect, read
#: At most one key-set fetch per this many seconds, however many unknown kids arrive.
MIN_REFRESH_SECONDS = 10.0
#: Background refresh, so a key removed from the set stops being trusted.
REFRESH_EVERY_SECONDS = 300.0
#: Retry delays of the first fetch (the server is not ready until it succeeds).
FIRST_FETCH_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class KeySource:
    """The issuer's key set: fetched off the event loop, refreshed at a bounded rate."""

    def __init__(
        self,
        url: str,
        ca_pem: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.keys: KeySet | None = None
        self.fetches = 0  #: attempts made (tests and the bench read it)
        self._ca_pem = ca_pem
        self._ca_file: str | None = None
        self._clock = clock
        self._on_error = on_error
        self._last_attempt = -MIN_REFRESH_SECONDS
        self._inflight: asyncio.Future[bool] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loaded: asyncio.Event | None = None

    def kids(self) -> set[str]:
        return {str(key.kid) for key in self.keys.keys} if self.keys is not None else set()

    def start(self) -> None:
        """First fetch (with retries) and the periodic refresh, on the running loop."""
        self._loaded = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._keep_fresh())

    async def wait_loaded(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) for the first key set; True once it is held."""
        if self.keys is None and self._loaded is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._loaded.wait(), timeout)
        return self.keys is not None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._ca_file is not None:
            Path(self._ca_file).unlink(missing_ok=True)

    async def _keep_fresh(self) -> None:
        delays = iter(FIRST_FETCH_BACKOFF)
        while self.keys is None:
            if await self.refresh(force=True):
                break
            await asyncio.sleep(next(delays, FIRST_FETCH_BACKOFF[-1]))
        while True:
            await asyncio.sleep(REFRESH_EVERY_SECONDS)
            await self.refresh(force=True)

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the set again; False without fetching when one ran too recently.

        Concurrent callers share one fetch. True when the set was fetched.
        """
        if self._inflight is not None:
            return await asyncio.shield(self._inflight)
        now = self._clock()
        if not force and now - self._last_attempt < MIN_REFRESH_SECONDS:
            return False
        self._last_attempt = now
        self.fetches += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._inflight = future

        def work() -> None:
            try:
                keys: KeySet | None = self._fetch()
                error = None
            except Exception as exc:  # reported, never raised into a request
                keys, error = None, f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(RuntimeError):  # the loop closed: stopping
                loop.call_soon_threadsafe(self._fetched, future, keys, error)

        # A daemon thread, not the loop's executor: stopping never waits for a fetch.
        threading.Thread(target=work, name="mlctl-jwks", daemon=True).start()
        return await asyncio.shield(future)

    def _fetched(
        self, future: asyncio.Future[bool], keys: KeySet | None, error: str | None
    ) -> None:
        self._inflight = None
        if keys is not None:
            self.keys = keys
            if self._loaded is not None:
                self._loaded.set()
        elif self._on_error is not None:
            self._on_error(f"could not fetch the token keys from {self.url}: {error}")
        if not future.done():
            future.set_result(keys is not None)

    def _verify(self) -> str | bool:
        if not self._ca_pem:
            return True
        if self._ca_file is None:
            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
                handle.write(self._ca_pem)
            self._ca_file = handle.name
        return self._ca_file

    def _fetch(self) -> KeySet:
        with requests.get(
            self.url, timeout=FETCH_TIMEOUT, verify=self._verify(), stream=True
        ) as response:
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError(f"the key set is larger than {MAX_JWKS_BYTES} bytes")
        document = orjson.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError('not a JSON Web Key Set (no "keys" list)')
        # Only signing keys of the algorithms we accept: an "oct" key would allow HMAC.
        usable = [k for k in document["keys"] if isinstance(k, dict) and k.get("kty") != "oct"]
        return KeySet.import_key_set({"keys": usable})
