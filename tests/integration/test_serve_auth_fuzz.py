"""The Authorization header, fuzzed against a live jwt server over raw sockets.

Sizes from nothing to past the header limit, every byte but CR/LF, non-ASCII and
latin-1, NUL and tabs, mutated real tokens, duplicated headers: the answer is always a
refusal the README documents (400, 401, 403 or 431; 200 only for a genuine token) and
the server stays live and keeps answering genuine callers. Deterministic (derandomized
hypothesis), bounded in examples.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlctl.bundle.schema import AuthMode
from mlctl.serve.http import EventLog
from mlctl.serve.options import ServeOptions
from mlctl.serve.protocol import ConnectionLimits
from mlctl.serve.server import LocalServer
from tests.jwt_issuer import ISSUER, LocalIssuer, serving_issuer

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
LIMITS = ConnectionLimits(max_header_bytes=16384, header_timeout=5.0, idle_timeout=5.0)
PATIENCE = 30.0
BODY = b'{"features": [[5.1, 3.5, 1.4, 0.2]]}'
ALLOWED = {400, 401, 403, 431}
STATUS = re.compile(rb"^HTTP/1\.1 (\d{3}) ")


@dataclass
class Live:
    port: int
    issuer: LocalIssuer
    good: str

    def raw(self, headers: list[bytes]) -> int:
        """Send one POST /predict with these extra header lines; the status answered."""
        request = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        request += b"".join(h + b"\r\n" for h in headers)
        request += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY) + BODY
        with socket.create_connection(("127.0.0.1", self.port), timeout=PATIENCE) as sock:
            sock.sendall(request)
            answer = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    answer += chunk
        match = STATUS.match(answer)
        assert match is not None, answer[:200]
        return int(match.group(1))

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}{path}", timeout=PATIENCE
            ) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def still_serving(self) -> None:
        assert self.get("/healthz") == 200
        assert self.raw([b"Authorization: Bearer " + self.good.encode()]) == 200


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with serving_issuer() as issuer:
        options = ServeOptions(
            bundle_dir=IRIS,
            access_log=False,
            limits=LIMITS,
            auth_mode=AuthMode.JWT,
            auth_issuer=ISSUER,
            auth_jwks_url=issuer.jwks_url,
        )
        local = LocalServer.build(options, port=0, log=EventLog(io.StringIO()))
        thread = threading.Thread(target=local.server.run, kwargs={"sockets": [local.sock]})
        thread.start()
        running = Live(local.port, issuer, issuer.token(ttl=3600))
        try:
            deadline = time.monotonic() + PATIENCE
            while True:
                with contextlib.suppress(OSError):
                    if running.get("/readyz") == 200:
                        break
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.05)
            yield running
        finally:
            local.server.should_exit = True
            thread.join(timeout=PATIENCE)


FUZZ = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
#: Any byte a header value can carry on the wire (CR and LF would end the header).
VALUE_BYTES = st.binary(max_size=24_000).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
B64URL = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ")


@FUZZ
@given(value=VALUE_BYTES)
def test_any_bytes_are_refused_and_the_server_stays_live(live: Live, value: bytes) -> None:
    assert live.raw([b"Authorization: " + value]) in ALLOWED
    assert live.get("/healthz") == 200


@FUZZ
@given(
    scheme=st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Bearer\t", "", "Bearer  "]),
    parts=st.lists(B64URL.filter(lambda t: len(t) < 6000), min_size=0, max_size=6),
)
def test_token_shaped_garbage_is_401(live: Live, scheme: str, parts: list[str]) -> None:
    value = f"{scheme} {'.'.join(parts)}".encode()
    assert live.raw([b"Authorization: " + value]) in ALLOWED
    assert live.get("/healthz") == 200


@FUZZ
@given(
    position=st.integers(min_value=0, max_value=10_000),
    insert=st.sampled_from(
        ["\x00", "\t", "é", "€", "\u202e", "%00", "..", "=", " ", "\x7f", "A" * 9000]
    ),
    drop=st.booleans(),
)
def test_mutated_genuine_tokens_never_pass(
    live: Live, position: int, insert: str, drop: bool
) -> None:
    token = live.good
    at = position % len(token)
    mutated = token[:at] + insert + token[at + (1 if drop else 0) :]
    status = live.raw([b"Authorization: Bearer " + mutated.encode("utf-8")])
    # A few edits leave a base64url segment decoding to the same bytes ('=' padding,
    # a dropped trailing character of the signature never does): only those may pass.
    if status == 200:
        assert _same_bytes(token, mutated), mutated
    else:
        assert status in ALLOWED


def _same_bytes(original: str, mutated: str) -> bool:
    def decoded(token: str) -> list[bytes] | None:
        try:
            return [base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in token.split(".")]
        except ValueError:
            return None

    return decoded(mutated) is not None and decoded(mutated) == decoded(original)


def test_a_header_past_the_limit_is_431_and_leaves_it_serving(live: Live) -> None:
    huge = b"Authorization: Bearer " + b"a" * (LIMITS.max_header_bytes + 10)
    assert live.raw([huge]) == 431
    live.still_serving()


def test_two_authorization_headers_are_not_a_way_in(live: Live) -> None:
    forged = live.issuer.token(models=["default/churn"])
    # Whichever of the two the server reads, the other one grants nothing more.
    status = live.raw([b"Authorization: Bearer " + forged.encode(), b"Authorization: Bearer x"])
    assert status in {401, 403}
    live.still_serving()


def test_after_the_fuzzing_genuine_callers_are_still_answered(live: Live) -> None:
    live.still_serving()
    assert live.get("/readyz") == 200
