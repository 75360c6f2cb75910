"""pytest fixtures: a running Nomad (simulator, or ``nomad agent -dev`` when installed).

``nomad_cluster`` is the standard topology (tests/README.md): two clients with one
Tesla T4 each and one CPU-only client, ACLs off.  ``nomad_sim_factory`` starts
simulators with any topology, ACLs on or off and any time scale.  Tests that steer
(mark allocations unhealthy, take nodes down...) call ``require_sim(handle)``,
which skips with a clear reason when the cluster is a real agent.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from mlctl.local.engine.sim import NomadSim
from mlctl.local.engine.topology import NodeSpec, default_cluster


@dataclass
class NomadHandle:
    """What a test needs to reach a Nomad: address, token (None without ACLs), steering."""

    address: str
    management_token: str | None
    sim: NomadSim | None

    @property
    def host(self) -> str:
        return self.address.split("://", 1)[1].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def client(self, token: str | None = None, namespace: str | None = None) -> Any:
        """A python-nomad client pointed at this cluster."""
        import nomad

        return nomad.Nomad(
            host=self.host,
            port=self.port,
            token=token or self.management_token,
            namespace=namespace,
            timeout=10,
        )


def require_sim(handle: NomadHandle) -> NomadSim:
    """The simulator behind a handle, or skip: a real agent cannot be steered."""
    if handle.sim is None:
        pytest.skip("needs the Nomad simulator's steering; running against a real nomad agent")
    return handle.sim


SimFactory = Callable[..., NomadHandle]


@pytest.fixture
def nomad_sim_factory() -> Iterator[SimFactory]:
    """Start simulators: ``factory(nodes=None, acl=False, time_scale=50.0)``; stopped after."""
    started: list[NomadSim] = []

    def factory(
        nodes: list[NodeSpec] | None = None,
        acl: bool = False,
        time_scale: float = 50.0,
        **options: Any,  # e.g. event_buffer_size, event_heartbeat
    ) -> NomadHandle:
        sim = NomadSim(nodes=nodes, acl=acl, time_scale=time_scale, **options).start()
        started.append(sim)
        return NomadHandle(sim.address, sim.management_token, sim)

    yield factory
    for sim in started:
        sim.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _real_agent() -> Iterator[NomadHandle]:
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="nomad-dev-")
    proc = subprocess.Popen(
        [
            "nomad",
            "agent",
            "-dev",
            "-bind=127.0.0.1",
            f"-data-dir={data_dir}",
            f"-config={_dev_config(data_dir, port)}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{address}/v1/status/leader", timeout=1).json():
                    break
            except (requests.RequestException, ValueError):
                time.sleep(0.5)
        else:
            pytest.fail("nomad agent -dev did not elect a leader within 60s")
        yield NomadHandle(address, None, None)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def _dev_config(data_dir: str, port: int) -> str:
    path = os.path.join(data_dir, "ports.hcl")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(
            f"ports {{\n  http = {port}\n  rpc = {_free_port()}\n  serf = {_free_port()}\n}}\n"
        )
    return path


@pytest.fixture
def nomad_cluster(nomad_sim_factory: SimFactory) -> Iterator[NomadHandle]:
    """The standard cluster (2 GPU clients + 1 CPU client, ACLs off); a real agent if on PATH."""
    if shutil.which("nomad"):
        yield from _real_agent()
        return
    yield nomad_sim_factory(nodes=default_cluster())
