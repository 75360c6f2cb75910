"""Pytest fixtures: ``vault_sim`` (a Vault) and ``access_cluster`` (Vault wired to Nomad).

With a ``vault`` binary on PATH, ``vault_sim`` starts ``vault server -dev`` instead of
the simulator; tests that steer time call :meth:`VaultHandle.require_sim`, which skips
them with the reason. ``access_cluster`` starts a Nomad with ACLs on (the Nomad
simulator's ``nomad_sim_factory``) and a Vault whose Nomad secrets engine talks to it:
ready for ``mlctl vault bootstrap``.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.simulators.vault.server import VaultSimulator


@dataclass
class VaultHandle:
    address: str
    root_token: str
    sim: VaultSimulator | None  # None: a real ``vault server -dev``

    def require_sim(self, why: str = "steers the simulator") -> VaultSimulator:
        if self.sim is None:
            pytest.skip(f"real Vault agent: this test {why}")
        return self.sim

    def advance(self, seconds: float) -> None:
        """Make time pass for tokens and leases (simulator only)."""
        self.require_sim("moves Vault's clock").advance(seconds)


@dataclass
class AccessCluster:
    """Vault + Nomad with ACLs, as a fresh install: nothing configured yet."""

    vault: VaultHandle
    nomad: Any  # the Nomad simulator handle (.address, .management_token, .sim)

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


def _real_vault() -> Iterator[VaultHandle]:
    port, token = _free_port(), secrets.token_hex(16)
    address = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            "vault",
            "server",
            "-dev",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{address}/v1/sys/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield VaultHandle(address, token, None)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def vault_sim() -> Iterator[VaultHandle]:
    """A fresh dev-mode Vault (simulator, or a real agent when ``vault`` is on PATH)."""
    if shutil.which("vault"):
        yield from _real_vault()
        return
    sim = VaultSimulator()
    address = sim.start()
    try:
        yield VaultHandle(address, sim.root_token, sim)
    finally:
        sim.stop()


@pytest.fixture
def access_cluster(request: pytest.FixtureRequest, vault_sim: VaultHandle) -> AccessCluster:
    """Nomad (ACLs on, management token known) plus a Vault that can reach it."""
    factory = request.getfixturevalue("nomad_sim_factory")
    nomad = factory(acl=True)
    return AccessCluster(vault=vault_sim, nomad=nomad)
