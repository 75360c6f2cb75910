"""A real nginx (Debian's package) serving a WebDAV artifact store on 127.0.0.1.

Reads are anonymous and writes need basic auth (``limit_except GET HEAD``), the layout
mlctl recommends so Nomad can download without credentials in the job.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "deployer"
PASSWORD = "s3cret-Pa55word-for-tests"

CONF = """\
daemon off;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {root}/access.log;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path {root}/tmp/proxy;
  fastcgi_temp_path {root}/tmp/fastcgi;
  uwsgi_temp_path {root}/tmp/uwsgi;
  scgi_temp_path {root}/tmp/scgi;
  client_max_body_size 0;
  server {{
    listen 127.0.0.1:{port};
    root {root}/www;
    location /models/ {{
      dav_methods PUT DELETE MKCOL;
      create_full_put_path {create_full_put_path};
      dav_access user:rw group:r all:r;
      limit_except GET HEAD {{
        auth_basic "mlctl artifacts";
        auth_basic_user_file {root}/htpasswd;
      }}
    }}
  }}
}}
"""


@dataclass
class Nginx:
    url: str
    root: Path

    def requests(self, method: str) -> list[str]:
        """Access-log lines of requests with that method, as logged so far."""
        log = self.root / "access.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [line for line in lines if f'"{method} ' in line]

    def logged(self, method: str, at_least: int) -> list[str]:
        """The lines of ``method`` once at least ``at_least`` are logged.

        nginx writes a request's log line in its log phase, after the response has
        gone out, so a client under load can read the log before the line lands.
        This waits (up to a few seconds) for lines the test knows were caused.
        """
        deadline = time.monotonic() + 5.0
        lines = self.requests(method)
        while len(lines) < at_least and time.monotonic() < deadline:
            time.sleep(0.02)
            lines = self.requests(method)
        return lines


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not found:
        pytest.skip("nginx is not installed (bash scripts/test.sh installs it when run as root)")
    version = subprocess.run([found, "-V"], capture_output=True, text=True, check=False).stderr
    if "--with-http_dav_module" not in version:
        pytest.skip(f"{found} was built without the WebDAV module (dav_methods)")
    return found


def ssha_entry(user: str, password: str) -> str:
    """An htpasswd line in RFC 2307 ``{SSHA}`` form, which nginx reads natively."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {(root / 'error.log').read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nginx did not start listening within 10 s")


def start_nginx(root: Path, *, create_full_put_path: bool = True) -> Iterator[Nginx]:
    binary = nginx_binary()
    (root / "www" / "models").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "htpasswd").write_text(ssha_entry(USER, PASSWORD))
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        CONF.format(
            root=root,
            port=port,
            # As root the workers would drop to "nobody", who cannot write the test's tmp dir.
            user="user root root;" if os.geteuid() == 0 else "",
            create_full_put_path="on" if create_full_put_path else "off",
        )
    )
    process = subprocess.Popen(
        [binary, "-c", str(conf), "-p", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process, root)
        yield Nginx(url=f"http://127.0.0.1:{port}/models", root=root)
    finally:
        process.terminate()
        process.wait(timeout=10)
