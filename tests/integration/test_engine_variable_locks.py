"""Variable locks in the engine, over real HTTP, as Nomad >= 1.7 answers them.

Time is the engine's clock, frozen (a tiny time scale) and moved with ``advance``:
nothing here waits for real seconds. Facts: Nomad's ``variables_endpoint.go``,
``locks.go`` (the TTL timer runs 2 x TTL, then LockDelay), ``state_store_variables.go``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from mlctl.local.engine.persist import StateDB
from mlctl.local.engine.sim import NomadSim
from tests.simulators.nomad.fixtures import NomadHandle, SimFactory, require_sim

FROZEN = 1e-9  # engine seconds per real second: the clock moves only when advanced
PATH = "mlctl/monitor/leader"

WRITER_POLICY = """
namespace "default" {
  variables {
    path "mlctl/monitor/*" { capabilities = ["read", "write", "list"] }
  }
}
"""
READER_POLICY = """
namespace "default" {
  variables {
    path "mlctl/monitor/*" { capabilities = ["read", "list"] }
  }
}
"""


def call(
    handle: NomadHandle, method: str, op: str | None, body: Any = None, token: str | None = None
) -> requests.Response:
    params = {op: ""} if op else {}
    headers = {"X-Nomad-Token": token or handle.management_token or ""}
    return requests.request(
        method, f"{handle.address}/v1/var/{PATH}", params=params, json=body,
        headers=headers, timeout=10,
    )  # fmt: skip


def acquire(handle: NomadHandle, token: str | None = None, **lock: Any) -> requests.Response:
    return call(handle, "PUT", "lock-acquire",
                {"Items": {"holder": "a"}, "Lock": lock or None}, token)  # fmt: skip


def renew(handle: NomadHandle, lock_id: str, token: str | None = None) -> requests.Response:
    return call(handle, "PUT", "lock-renew", {"Lock": {"ID": lock_id}}, token)


def release(handle: NomadHandle, lock_id: str, token: str | None = None) -> requests.Response:
    return call(handle, "PUT", "lock-release", {"Lock": {"ID": lock_id}}, token)


@pytest.fixture
def engine(nomad_sim_factory: SimFactory) -> NomadHandle:
    return nomad_sim_factory(time_scale=FROZEN)


@pytest.fixture
def acl_engine(nomad_sim_factory: SimFactory) -> NomadHandle:
    handle = nomad_sim_factory(acl=True, time_scale=FROZEN)
    admin = handle.client()
    admin.acl.create_policy("writer", {"Name": "writer", "Rules": WRITER_POLICY})
    admin.acl.create_policy("reader", {"Name": "reader", "Rules": READER_POLICY})
    return handle


def token(handle: NomadHandle, policy: str) -> str:
    body = {"Name": policy, "Type": "client", "Policies": [policy]}
    return str(handle.client().acl.create_token(body)["SecretID"])


def test_acquire_creates_the_variable_with_defaults_and_a_second_acquire_conflicts(
    engine: NomadHandle,
) -> None:
    first = acquire(engine)
    assert first.status_code == 200, first.text
    got = first.json()
    assert got["Lock"]["TTL"] == "15s" and got["Lock"]["LockDelay"] == "15s"
    assert got["Lock"]["ID"] and got["Items"] == {"holder": "a"}
    second = acquire(engine)
    assert second.status_code == 409
    assert second.json()["Path"] == PATH and second.json()["ModifyIndex"] == 0
    assert "Items" not in second.json() and "Lock" not in second.json()
    again = call(engine, "PUT", "lock-acquire", {"Lock": {"ID": got["Lock"]["ID"]}})
    assert again.status_code == 200 and again.json()["Lock"]["ID"] == got["Lock"]["ID"]


def test_ttl_out_of_range_and_bad_query_are_400(engine: NomadHandle) -> None:
    short = acquire(engine, TTL="5s")
    assert short.status_code == 400
    assert short.text == (
        "RPC Error:: 400,1 error occurred:\n\t* TTL must be between 10 seconds and 24 hours\n\n"
    )
    both = requests.put(f"{engine.address}/v1/var/{PATH}?lock-acquire&lock-release",
                        json={}, timeout=10)  # fmt: skip
    assert both.status_code == 400 and both.text == "multiple lock operations"
    cas = requests.put(f"{engine.address}/v1/var/{PATH}?lock-acquire&cas=0", json={}, timeout=10)
    assert cas.status_code == 400 and cas.text == "CAS can't be used with lock operations"


def test_renew_keeps_it_past_ttl_and_without_renewal_it_is_lost_after_2x_ttl_then_delay(
    engine: NomadHandle,
) -> None:
    sim = require_sim(engine)
    lock_id = acquire(engine, TTL="10s", LockDelay="20s").json()["Lock"]["ID"]
    sim.advance(15)
    renewed = renew(engine, lock_id)
    assert renewed.status_code == 200 and renewed.json()["Lock"]["ID"] == lock_id
    assert "Items" not in renewed.json()
    sim.advance(19)  # within 2 x TTL of the renewal: still held
    assert renew(engine, lock_id).status_code == 200
    sim.advance(21)  # 2 x TTL without a renewal: lost, and the delay starts
    lost = renew(engine, lock_id)
    assert lost.status_code == 409 and lost.text == "attempting to modify locked variable"
    held = acquire(engine)
    assert held.status_code == 409  # LockDelay: nobody may take it yet
    assert call(engine, "GET", None).json()["Lock"]["ID"] == lock_id  # still on the variable
    sim.advance(20)
    after = call(engine, "GET", None).json()
    assert "Lock" not in after and after["Items"] == {"holder": "a"}  # items kept
    assert renew(engine, lock_id).text == "variable doesn't hold a lock"
    assert acquire(engine).status_code == 200


def test_release_frees_it_at_once_and_wrong_ids_are_refused(engine: NomadHandle) -> None:
    lock_id = acquire(engine).json()["Lock"]["ID"]
    wrong = release(engine, "not-the-id")
    assert wrong.status_code == 409 and wrong.json()["Path"] == PATH
    assert renew(engine, "not-the-id").status_code == 409
    missing = call(engine, "PUT", "lock-release", {})
    assert missing.status_code == 400 and missing.text == "missing lock information"
    with_items = call(engine, "PUT", "lock-release", {"Lock": {"ID": lock_id}, "Items": {}})
    assert with_items.text == "lock release operation doesn't take variable items"
    done = release(engine, lock_id)
    assert done.status_code == 200 and "Lock" not in done.json() and "Items" not in done.json()
    assert acquire(engine).status_code == 200  # no delay after a release
    unlocked_release = call(engine, "PUT", "lock-release", {"Lock": {"ID": "x"}})
    assert unlocked_release.status_code == 409
    nothing = requests.put(f"{engine.address}/v1/var/nowhere?lock-renew",
                           json={"Lock": {"ID": "x"}}, timeout=10)  # fmt: skip
    assert nothing.status_code == 404 and nothing.text == "variable doesn't exist"
    no_id = call(engine, "PUT", "lock-renew", {})
    assert no_id.status_code == 500 and no_id.text == "1 error occurred:\n\t* missing lock ID\n\n"


def test_a_locked_variable_refuses_writes_and_deletes_without_its_lock_id(
    engine: NomadHandle,
) -> None:
    lock_id = acquire(engine).json()["Lock"]["ID"]
    plain = call(engine, "PUT", None, {"Items": {"x": "y"}})
    assert plain.status_code == 409 and plain.json()["ModifyIndex"] == 0
    delete = call(engine, "DELETE", None)
    assert delete.status_code == 409
    ttl_on_write = call(engine, "PUT", None, {"Items": {"x": "y"}, "Lock": {"TTL": "20s"}})
    assert ttl_on_write.status_code == 400
    assert ttl_on_write.text == "variable should not contain lock definition"
    holder = call(engine, "PUT", None, {"Items": {"x": "y"}, "Lock": {"ID": lock_id}})
    assert holder.status_code == 200 and holder.json()["Lock"]["ID"] == lock_id
    assert call(engine, "GET", None).json()["Items"] == {"x": "y"}
    assert release(engine, lock_id).status_code == 200
    assert call(engine, "DELETE", None).status_code == 200


def test_only_management_tokens_see_the_lock_and_locking_needs_write(
    acl_engine: NomadHandle,
) -> None:
    writer, reader = token(acl_engine, "writer"), token(acl_engine, "reader")
    assert acquire(acl_engine, reader).status_code == 403
    mine = acquire(acl_engine, writer)
    assert mine.status_code == 200 and mine.json()["Lock"]["ID"]  # the holder sees its ID
    lock_id = mine.json()["Lock"]["ID"]
    as_reader = call(acl_engine, "GET", None, token=reader).json()
    assert "Lock" not in as_reader and as_reader["Items"] == {"holder": "a"}
    listed = requests.get(f"{acl_engine.address}/v1/vars", params={"prefix": "mlctl/"},
                          headers={"X-Nomad-Token": writer}, timeout=10).json()  # fmt: skip
    assert listed and "Lock" not in listed[0]
    as_admin = call(acl_engine, "GET", None).json()
    assert as_admin["Lock"]["ID"] == lock_id
    assert renew(acl_engine, lock_id, reader).status_code == 403
    assert renew(acl_engine, lock_id, writer).status_code == 200
    assert release(acl_engine, lock_id, reader).status_code == 403
    assert release(acl_engine, lock_id, writer).status_code == 200


def test_a_restarted_engine_keeps_the_lock_and_gives_it_a_fresh_ttl(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    first = NomadSim(time_scale=FROZEN).start()
    try:
        handle = NomadHandle(first.address, None, first)
        lock_id = acquire(handle).json()["Lock"]["ID"]
        first.advance(25)  # 5 s of the 30 s (2 x TTL) left
        db.save(first, everything=True)
    finally:
        first.stop()
    second = NomadSim(time_scale=FROZEN)
    db.restore(second)
    second.start()
    try:
        handle = NomadHandle(second.address, None, second)
        assert acquire(handle).status_code == 409
        second.advance(29)  # a fresh 2 x TTL from the restart
        assert renew(handle, lock_id).status_code == 200
    finally:
        second.stop()
        db.close()
