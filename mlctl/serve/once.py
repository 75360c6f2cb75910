"""``mlctl serve --once PAYLOAD``: start, answer one real HTTP prediction, stop.

The README's first command. It exercises the whole path a client would (socket, HTTP,
routing, batching, the contract) instead of calling the model in-process, so "it
printed a prediction" means "the server works".
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from mlctl.errors import InvalidInput, MlctlError, Timeout, Unreachable
from mlctl.serve.options import ServeOptions
from mlctl.serve.server import LocalServer

READY_TIMEOUT_SECONDS = 120.0
REQUEST_TIMEOUT_SECONDS = 30.0
GRACE_SECONDS = 10.0


def serve_once(options: ServeOptions, payload: str) -> Any:
    """The JSON answer of ``POST /predict`` with ``payload``, from a throw-away server."""
    try:
        json.loads(payload)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--once: the payload is not valid JSON: {exc}") from None
    local = LocalServer.build(options, port=0)
    thread = threading.Thread(
        target=local.server.run, kwargs={"sockets": [local.sock]}, daemon=True
    )
    thread.start()
    base = f"http://{options.host}:{local.port}"
    try:
        _wait_ready(base, local, thread)
        return _post_json(f"{base}/predict", payload.encode())
    finally:
        local.server.should_exit = True
        thread.join(timeout=GRACE_SECONDS)
        local.sock.close()


def _wait_ready(base: str, local: LocalServer, thread: threading.Thread) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        local.raise_if_load_failed()
        if not thread.is_alive():
            raise Unreachable("the server stopped before it became ready (see the log above)")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise Unreachable(f"{base}/readyz answered {exc.code}") from None
        except urllib.error.URLError:
            pass  # not listening yet
        time.sleep(0.02)
    raise Timeout(f"the model was not ready after {READY_TIMEOUT_SECONDS:.0f} s")


def _post_json(url: str, body: bytes) -> Any:
    request = urllib.request.Request(  # noqa: S310 - a loopback URL we built
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise _refusal(exc.code, _error_text(exc.read())) from None


def _refusal(status: int, error: str) -> MlctlError:
    """The server's error answer as the CLI's error: every status is a documented one."""
    message = f"the server answered {status}: {error}"
    if status < 500:
        return InvalidInput(message, hint="check the payload against the bundle's contract")
    if status == 504:
        return Timeout(message, hint="the model did not answer within the inference timeout")
    # A 500 is the bundle's own code failing (contract or model): the bundle is invalid.
    return InvalidInput(message, hint="the server log above has the traceback")


def _error_text(body: bytes) -> str:
    try:
        return str(json.loads(body).get("error", body.decode(errors="replace")))
    except (ValueError, AttributeError):
        return body.decode(errors="replace")
