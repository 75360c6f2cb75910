"""Real servers the monitor's receivers talk to in tests, all on 127.0.0.1:

- ``webhook_sink``: an HTTP server recording JSON POSTs; it can answer 503 ("down").
- ``smtp_server``: aiosmtpd with STARTTLS (self-signed certificate) and AUTH LOGIN/PLAIN
  required over TLS, recording messages.
- ``alertmanager``: Debian's ``prometheus-alertmanager`` with a temporary config and
  storage directory, routing everything to a webhook sink with ``group_wait: 0s``.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------- webhook sink


@dataclass
class WebhookSink:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.received)


def _sink_handler(sink: WebhookSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if sink.down:
                self.send_response(503)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"down")
                return
            with sink.lock:
                sink.received.append(json.loads(body))
                sink.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    sink = WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/hook")
    server.RequestHandlerClass = _sink_handler(sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sink
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------- SMTP


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: Path
    username: str
    password: str
    messages: list[Message] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    controller: Any = None

    @property
    def smarthost(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer("localhost", free_port(), cert, "mlctl", "smtp-pass-5e3cr3t")

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            server.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    def authenticator(_server: Any, _session: Any, _envelope: Any, _mechanism: str,
                      data: Any) -> AuthResult:  # fmt: skip
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == server.username
            and data.password.decode() == server.password
        )
        if ok:
            server.logins.append(data.login.decode())
        return AuthResult(success=ok)

    def make() -> Any:
        return Controller(
            Handler(),
            hostname="127.0.0.1",
            port=server.port,
            server_hostname="localhost",
            tls_context=context,
            require_starttls=True,
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=True,
        )

    server.controller = make()
    server.start()
    original_start = server.start

    def restart() -> None:
        server.controller = make()
        original_start()

    server.start = restart  # type: ignore[method-assign]
    yield server
    with contextlib.suppress(Exception):  # a test may have stopped it already
        server.stop()


# ---------------------------------------------------------------------- Alertmanager

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@dataclass
class Alertmanager:
    url: str
    sink: WebhookSink
    process: subprocess.Popen[bytes]

    def alerts(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.url}/api/v2/alerts", timeout=5)
        answer.raise_for_status()
        return list(answer.json())


def start_alertmanager(directory: Path, sink_url: str, port: int) -> subprocess.Popen[bytes]:
    if ALERTMANAGER is None:
        pytest.skip(
            "prometheus-alertmanager is not installed (scripts/test.sh installs it as root)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: sink\n"
        "  group_by: [alertname, model]\n"
        "  group_wait: 0s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: sink\n"
        "    webhook_configs:\n"
        f"      - url: {sink_url}\n"
        "        send_resolved: true\n"
    )
    return subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"Alertmanager at {url} did not become ready in {timeout}s")


@pytest.fixture
def alertmanager(tmp_path: Path, webhook_sink: WebhookSink) -> Iterator[Alertmanager]:
    port = free_port()
    process = start_alertmanager(tmp_path / "am", webhook_sink.url, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        yield Alertmanager(url, webhook_sink, process)
    finally:
        process.terminate()
        process.wait(timeout=20)


# ---------------------------------------------------------------------- model servers


#: ``answer(path, request headers)`` -> (status, body) of a GET.
Answer = Callable[[str, Message], tuple[int, bytes]]


def serve_gets(answer: Answer, port: int = 0) -> ThreadingHTTPServer:
    """A loopback HTTP server answering every GET with ``answer`` (on a daemon thread);
    the fake model servers of the monitor's tests are this with their own answers."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            status, body = answer(self.path, self.headers)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class FakeModelServer:
    """``/readyz`` and ``/metrics`` of ``mlctl serve`` (its real metrics registry) on a
    given port, with load the test controls: requests in flight and their latency."""

    def __init__(self, port: int) -> None:
        from mlctl.serve.metrics import ServerMetrics

        self.metrics = ServerMetrics("model")
        self.ready = True
        self.lock = threading.Lock()
        self.httpd = serve_gets(self.answer, port)

    def answer(self, path: str, _headers: Message) -> tuple[int, bytes]:
        if path == "/readyz":
            return (200, b"ok") if self.ready else (503, b"loading")
        if path == "/metrics":
            with self.lock:
                return 200, self.metrics.exposition()
        return 404, b""

    def load(self, in_flight: float, requests_done: int = 50, seconds: float = 0.01) -> None:
        with self.lock:
            self.metrics.in_flight.set(in_flight)
            for _ in range(requests_done):
                self.metrics.requests.labels("/predict", "POST", "200").inc()
                self.metrics.latency.labels("/predict").observe(seconds)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def use_private_ports(sim: Any, span: int = 64) -> None:
    """Give the simulator's nodes a dynamic port range nobody else uses now: every
    simulator starts at 20000, so parallel tests (or a real server of another test)
    would otherwise share the ports the fake model servers listen on."""
    for _ in range(50):
        low = free_port()
        if low + span < 65535 and all(_free(p) for p in range(low, low + span, 8)):
            break
    with sim.store.lock:
        for node in sim.cluster.nodes.values():
            node["NodeResources"]["MinDynamicPort"] = low
            node["NodeResources"]["MaxDynamicPort"] = low + span


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class ModelServers:
    """A fake model server on the port of every running allocation of a simulated job
    (started as allocations appear), all under the same load. Call
    :func:`use_private_ports` on the simulator before registering the job."""

    def __init__(self, sim: Any, job_id: str, namespace: str = "default") -> None:
        self.sim = sim
        self.job_id = job_id
        self.namespace = namespace
        self.servers: dict[str, FakeModelServer] = {}
        self.in_flight = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.wait(0.05):
            for alloc in self.sim.allocations(self.job_id, self.namespace):
                if alloc.id in self.servers or alloc.terminal or not alloc.offer.ports:
                    continue
                try:
                    self.servers[alloc.id] = FakeModelServer(int(alloc.offer.ports[0]["Value"]))
                except OSError:
                    continue  # port taken on this machine: that allocation stays unreachable
            for server in self.servers.values():
                server.load(self.in_flight, requests_done=5)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for server in self.servers.values():
            server.close()


@pytest.fixture
def model_servers() -> Iterator[Any]:
    made: list[ModelServers] = []

    def make(sim: Any, job_id: str, namespace: str = "default") -> ModelServers:
        made.append(ModelServers(sim, job_id, namespace))
        return made[-1]

    yield make
    for item in made:
        item.close()
