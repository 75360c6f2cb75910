"""The Nomad transport against a scripted local HTTP server: error mapping, headers,
namespace, blocking queries, and retries only for GET."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from urllib3.exceptions import MaxRetryError, NewConnectionError

from mlctl.errors import (
    AuthError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unreachable,
)
from mlctl.nomad import connect
from mlctl.nomad.retry import ReadOnlyRetry, read_retry
from mlctl.settings import Settings

Reply = tuple[int, Any, dict[str, str]]


@dataclass
class Script:
    """Answers by (method, path); records every request seen."""

    replies: dict[tuple[str, str], list[Reply | Callable[[], Reply] | str]] = field(
        default_factory=dict
    )
    seen: list[dict[str, Any]] = field(default_factory=list)

    def on(self, method: str, path: str, *replies: Reply | str) -> None:
        self.replies[(method, path)] = list(replies)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.seen.append(
                {
                    "method": self.command,
                    "path": path,
                    "query": query,
                    "token": self.headers.get("X-Nomad-Token"),
                    "agent": self.headers.get("User-Agent"),
                    "body": json.loads(body) if body else None,
                }
            )
            queue = script.replies.get((self.command, path)) or [(404, "no such path", {})]
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
            if reply == "hangup":
                self.close_connection = True
                self.connection.close()
                return
            status, payload, headers = reply  # type: ignore[misc]
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def client_for(address: str, token: str | None = None, namespace: str = "default"):
    settings = Settings(nomad_addr=address, nomad_token=token, nomad_namespace=namespace)
    return connect(settings, retry=read_retry(attempts=2, backoff=0))


def test_token_namespace_and_user_agent_are_sent(server):
    address, script = server
    script.on("GET", "/v1/job/mlctl-iris", (200, {"ID": "mlctl-iris", "Version": 3}, {}))
    job = client_for(address, token="s3cr3t-token-value", namespace="team-a").jobs.read(
        "mlctl-iris"
    )
    assert job["Version"] == 3
    seen = script.seen[0]
    assert seen["token"] == "s3cr3t-token-value"
    assert "namespace=team-a" in seen["query"]
    assert seen["agent"].startswith("mlctl/")


def test_path_segments_are_quoted(server):
    address, script = server
    with pytest.raises(NotFound):
        client_for(address).transport.json("get", "job", "../acl/tokens")
    assert script.seen[0]["path"] == "/v1/job/..%2Facl%2Ftokens"


@pytest.mark.parametrize(
    ("status", "body", "token", "error", "words"),
    [
        (
            400,
            "job validation failed: group count",
            None,
            InvalidInput,
            "Nomad rejected POST /v1/jobs/parse: job validation failed",
        ),
        (
            403,
            "Permission denied",
            None,
            AuthError,  # no token at all: not logged in is status 6, like the README says
            "permission denied: POST /v1/jobs/parse",
        ),
        (403, "ACL token not found", "tok-123456", AuthError, "does not know the token"),
        (
            403,
            "Permission denied",
            "tok-123456",
            PermissionDenied,
            "permission denied: POST /v1/jobs/parse",
        ),
        (404, "job not found", None, NotFound, "not found: POST /v1/jobs/parse: job not found"),
        (409, "cas conflict", None, Conflict, "conflict: POST /v1/jobs/parse"),
        (
            500,
            "rpc error: leader unknown",
            None,
            Unreachable,
            "HTTP 500: rpc error: leader unknown",
        ),
    ],
)
def test_http_errors_map_to_one_error_class_each(server, status, body, token, error, words):
    address, script = server
    script.on("POST", "/v1/jobs/parse", (status, body, {}))
    with pytest.raises(error) as caught:
        client_for(address, token=token).jobs.parse('job "x" {}')
    assert words in caught.value.message
    if status == 403 and token is None:
        assert caught.value.hint == "not logged in — run mlctl login"


def test_error_from_python_nomad_method_names_method_and_path(server):
    address, script = server
    script.on("POST", "/v1/job/mlctl-iris/plan", (400, "bad job", {}))
    with pytest.raises(InvalidInput, match="POST /v1/job/mlctl-iris/plan: bad job"):
        client_for(address).jobs.plan({"ID": "mlctl-iris"})


def test_unreachable_names_address_and_hints_nomad_addr():
    settings = Settings(nomad_addr="http://127.0.0.1:9")  # discard port: nothing listens
    client = connect(settings, retry=read_retry(attempts=1, backoff=0))
    with pytest.raises(Unreachable) as caught:
        client.jobs.read("mlctl-iris")
    assert (
        "cannot reach Nomad at http://127.0.0.1:9 (GET /v1/job/mlctl-iris)" in caught.value.message
    )
    assert "NOMAD_ADDR" in (caught.value.hint or "")
    # nothing on this machine: say how to get a cluster, in the same line
    assert "mlctl local up" in caught.value.hint
    assert "mlctl context set" in caught.value.hint


def test_non_json_answer_is_reported_not_crashed(server):
    address, script = server
    script.on("GET", "/v1/job/x", (200, "<html>proxy login</html>", {}))
    with pytest.raises(Unreachable, match="not JSON"):
        client_for(address).jobs.read("x")


def test_get_is_retried_on_5xx_until_it_succeeds(server):
    address, script = server
    script.on("GET", "/v1/job/x", (503, "busy", {}), (502, "busy", {}), (200, {"ID": "x"}, {}))
    assert client_for(address).jobs.read("x")["ID"] == "x"
    assert len(script.seen) == 3


def test_get_gives_up_after_its_attempts_with_the_last_answer(server):
    address, script = server
    script.on("GET", "/v1/job/x", (503, "still busy", {}))
    with pytest.raises(Unreachable, match="HTTP 503: still busy"):
        client_for(address).jobs.read("x")
    assert len(script.seen) == 3  # first try + 2 retries


def test_post_is_never_retried_on_5xx(server):
    address, script = server
    script.on("POST", "/v1/job/x/scale", (503, "busy", {}), (200, {}, {}))
    with pytest.raises(Unreachable):
        client_for(address).jobs.scale("x", "model", 2, message="test")
    assert len(script.seen) == 1


def test_get_is_retried_after_a_dropped_connection_but_post_is_not(server):
    address, script = server
    script.on("GET", "/v1/job/x", "hangup", (200, {"ID": "x"}, {}))
    assert client_for(address).jobs.read("x")["ID"] == "x"
    assert [s["method"] for s in script.seen] == ["GET", "GET"]
    script.seen.clear()
    script.on("POST", "/v1/job/x/revert", "hangup", (200, {}, {}))
    with pytest.raises(Unreachable):
        client_for(address).jobs.revert("x", 1)
    assert [s["method"] for s in script.seen] == ["POST"]


def test_connection_errors_are_retried_for_get_only():
    error = NewConnectionError(None, "refused")  # type: ignore[arg-type]
    retry = ReadOnlyRetry(total=3, connect=3, allowed_methods=frozenset({"GET"}))
    assert retry.increment("GET", "/v1/jobs", error=error).connect == 2
    with pytest.raises(MaxRetryError):
        retry.increment("POST", "/v1/jobs", error=error)


def test_blocking_query_sends_index_and_wait_and_returns_new_index(server):
    address, script = server
    script.on(
        "GET",
        "/v1/deployment/d1",
        (200, {"ID": "d1", "Status": "running"}, {"X-Nomad-Index": "41"}),
    )
    client = client_for(address)
    deployment, index = client.deployments.read("d1")
    assert index == 41 and deployment["Status"] == "running"
    client.deployments.read("d1", index=index, wait=5)
    assert "index=41" in script.seen[1]["query"] and "wait=5000ms" in script.seen[1]["query"]
    assert "index=" not in script.seen[0]["query"]


def test_scale_during_deployment_is_a_conflict_with_a_way_out(server):
    address, script = server
    script.on(
        "POST",
        "/v1/job/x/scale",
        (400, "job scaling blocked due to active deployment", {}),
    )
    with pytest.raises(Conflict, match="while a deployment is in progress") as caught:
        client_for(address).jobs.scale("x", "model", 3, message="m")
    assert "promote" in (caught.value.hint or "")
    assert script.seen[0]["body"] == {"Count": 3, "Target": {"Group": "model"}, "Message": "m"}


def test_logs_stream_plain_bytes_with_tail_parameters(server):
    address, script = server
    script.on("GET", "/v1/client/fs/logs/a1", (200, "line one\nline two\n", {}))
    chunks = client_for(address).logs.read("a1", "server", "stderr", tail_bytes=400)
    assert b"".join(chunks) == b"line one\nline two\n"
    query = script.seen[0]["query"]
    for part in ("task=server", "type=stderr", "plain=true", "origin=end", "offset=400"):
        assert part in query


def test_register_is_check_and_set_and_a_lost_race_is_a_conflict(server):
    address, script = server
    script.on(
        "POST",
        "/v1/job/x",
        (500, "Enforcing job modify index 5: job exists with conflicting job modify index: 6", {}),
    )
    with pytest.raises(Conflict, match="changed since it was planned"):
        client_for(address).jobs.register({"ID": "x"}, enforce_index=5)
    assert script.seen[0]["body"] == {"Job": {"ID": "x"}, "EnforceIndex": True, "JobModifyIndex": 5}
    assert len(script.seen) == 1  # a write is never retried
