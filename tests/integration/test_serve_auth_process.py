"""``python -m mlctl serve`` with and without tokens, as a process (one and two workers)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from mlctl.errors import ExitStatus
from tests.jwt_issuer import ISSUER, LocalIssuer, serving_issuer

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "examples" / "iris"
BODY = {"features": [[5.1, 3.5, 1.4, 0.2]]}
PATIENCE = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(*flags: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlctl", "serve", str(IRIS), "--port", str(port), *flags],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=PATIENCE)


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with serving_issuer() as served:
        yield served


def test_every_worker_checks_tokens_from_its_first_request(issuer):
    """A worker listens on the shared port before its keys arrive (the second fetch is
    slow here: 3 s), so the kernel hands it connections at once: they must wait for the
    keys, not get 503."""
    issuer.delays = [0.0, 3.0]
    flags = ("--workers", "2", "--auth", "jwt", "--auth-issuer", ISSUER,
             "--auth-jwks-url", issuer.jwks_url)  # fmt: skip
    with server(*flags) as (base, process):
        deadline = time.monotonic() + PATIENCE
        while issuer.fetches < 2:  # both workers listen and are fetching (or have)
            assert time.monotonic() < deadline, "the second worker never asked for the keys"
            time.sleep(0.02)
        token = {"Authorization": f"Bearer {issuer.token()}"}
        answers = [  # new connections: the kernel spreads them over both workers
            requests.post(f"{base}/predict", json=BODY, headers=token, timeout=30).status_code
            for _ in range(40)
        ]
        assert set(answers) == {200}, answers
        assert requests.post(f"{base}/predict", json=BODY, timeout=30).status_code == 401
        process.terminate()
        stderr = process.communicate(timeout=PATIENCE)[1]
    assert stderr.count("auth: jwt: default/iris answers Bearer tokens") == 1


def test_without_auth_the_server_says_so_once():
    with server() as (base, process):
        assert requests.post(f"{base}/predict", json=BODY, timeout=30).status_code == 200
        process.terminate()
        stderr = process.communicate(timeout=PATIENCE)[1]
    assert stderr.count("auth: none: anyone who can reach this port may call iris") == 1


def test_jwt_without_its_issuer_is_one_line_exit_3():
    ran = subprocess.run(
        [sys.executable, "-m", "mlctl", "serve", str(IRIS), "--port", "0", "--auth", "jwt"],
        cwd=REPO, capture_output=True, text=True, timeout=PATIENCE,
    )  # fmt: skip
    assert ran.returncode == ExitStatus.CONFIG, ran.stderr
    assert ran.stderr.strip().count("\n") == 0 and ran.stderr.startswith("mlctl: error: ")
