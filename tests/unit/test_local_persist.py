"""The engine's SQLite state: everything comes back after a restart, the index moves on."""

from __future__ import annotations

import time

import nomad

from mlctl.local.engine import NomadSim
from mlctl.local.engine.clock import SimClock
from mlctl.local.engine.persist import INDEX_MARGIN, StateDB
from mlctl.local.engine.topology import NodeSpec

JOB = """
job "web" {
  group "g" {
    count = 2
    network { port "http" {} }
    update { min_healthy_time = "1s" healthy_deadline = "1m" progress_deadline = "2m" }
    task "t" {
      driver = "docker"
      config { image = "web:1" }
      resources { memory = 64 }
    }
  }
}
"""


def running_sim(db: StateDB) -> NomadSim:
    sim = NomadSim(nodes=[NodeSpec("n1")], acl=True, time_scale=50).start()
    sim.store.on_commit = lambda: db.save(sim)
    return sim


def wait_healthy(client: nomad.Nomad, job: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        dep = client.job.get_deployment(job)
        if dep and dep["Status"] == "successful":
            return
        time.sleep(0.05)
    raise AssertionError("deployment did not finish")


def test_state_round_trips_through_sqlite(tmp_path):
    db = StateDB(tmp_path / "state.db")
    sim = running_sim(db)
    client = nomad.Nomad(host="127.0.0.1", port=sim.port, token=sim.management_token, timeout=10)
    client.namespace.create_namespace({"Name": "team-a"})
    client.jobs.register_job({"Job": client.jobs.parse(JOB)})
    wait_healthy(client, "web")
    client.variable.create_variable("nomad/jobs/web", {"Items": {"k": "v"}})
    client.acl.create_policy(
        "readonly", {"Name": "readonly", "Rules": 'namespace "*" { policy = "read" }'}
    )
    reader = client.acl.create_token({"Name": "r", "Type": "client", "Policies": ["readonly"]})
    before_jobs = client.job.get_job("web")
    before_allocs = sorted(a["ID"] for a in client.job.get_allocations("web"))
    before_index = sim.store.index
    sim.stop()
    db.close()

    db = StateDB(tmp_path / "state.db")
    assert db.has_state()
    restored = NomadSim(
        nodes=[], acl=True, clock=SimClock.wall(float(db.meta("clock_start_wall"))), bootstrap=False
    )
    db.restore(restored)
    restored.start()
    try:
        again = nomad.Nomad(
            host="127.0.0.1", port=restored.port, token=sim.management_token, timeout=10
        )
        assert again.job.get_job("web") == before_jobs
        assert sorted(a["ID"] for a in again.job.get_allocations("web")) == before_allocs
        assert again.job.get_deployment("web")["Status"] == "successful"
        assert [v["Version"] for v in again.job.get_versions("web")["Versions"]] == [0]
        assert "team-a" in [n["Name"] for n in again.namespaces.get_namespaces()]
        assert again.variable.get_variable("nomad/jobs/web")["Items"] == {"k": "v"}
        # tokens and policies still work: the reader may read, not write
        as_reader = nomad.Nomad(host="127.0.0.1", port=restored.port, token=reader["SecretID"])
        assert as_reader.job.get_job("web")["ID"] == "web"
        # the index never goes backwards, even past what the last save recorded
        assert restored.store.index >= before_index + INDEX_MARGIN
        node = next(iter(restored.cluster.nodes.values()))
        assert all(a.node is node for a in restored.cluster.allocs.values())
    finally:
        restored.stop()
        db.close()


def test_an_idle_engine_writes_nothing(tmp_path):
    db = StateDB(tmp_path / "state.db")
    sim = running_sim(db)
    try:
        client = nomad.Nomad(host="127.0.0.1", port=sim.port, token=sim.management_token)
        client.jobs.register_job({"Job": client.jobs.parse(JOB)})
        wait_healthy(client, "web")
        time.sleep(0.3)
        with sim.store.lock:
            db.save(sim)
            changes = db.db.total_changes
            db.save(sim)
            assert db.db.total_changes - changes <= 4  # the meta rows only, no object rows
    finally:
        sim.stop()
        db.close()
