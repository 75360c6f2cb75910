"""Spec-driven fuzzing of a live server with schemathesis, from the server's own OpenAPI
document (``GET /v2/openapi.json``, written from the Open Inference Protocol v2 facts).

Every generated request, valid or not, must get a documented status (never a 5xx), a
JSON content type and a body that matches the document. Examples are bounded so the
whole run stays well under a minute.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from mlctl.serve.http import EventLog  # noqa: E402
from mlctl.serve.options import ServeOptions  # noqa: E402
from mlctl.serve.server import LocalServer  # noqa: E402

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_schema() -> Iterator[Any]:
    options = ServeOptions(bundle_dir=IRIS, access_log=False)
    local = LocalServer.build(options, port=0, log=EventLog(open("/dev/null", "w")))  # noqa: SIM115
    thread = threading.Thread(target=local.server.run, kwargs={"sockets": [local.sock]})
    thread.start()
    base = f"http://127.0.0.1:{local.port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{base}/readyz", timeout=5) as response,
            ):
                if response.status == 200:
                    break
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.05)
        yield schemathesis.openapi.from_url(f"{base}/v2/openapi.json")
    finally:
        local.server.should_exit = True
        thread.join(timeout=60)


schema = schemathesis.pytest.from_fixture("live_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_oip_route_answers_as_documented(case: Any) -> None:
    case.call_and_validate(checks=CHECKS, timeout=30)
