"""mlctl env against the Nomad simulator: render, plan failures, the token's secrecy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from mlctl.local.engine.topology import GpuSpec, NodeSpec
from tests.cli_runner import run_cli
from tests.e2e.support import mlctl, mlctl_json, use_cluster
from tests.simulators.nomad.fixtures import NomadHandle, SimFactory

DS_POLICY = Path(__file__).resolve().parents[2] / "vault-policies" / "nomad-data-scientist.hcl.j2"
VIEWER_POLICY = Path(__file__).resolve().parents[2] / "vault-policies" / "nomad-viewer.hcl"
OPERATOR_POLICY = Path(__file__).resolve().parents[2] / "vault-policies" / "nomad-operator.hcl"


def _admin(handle: NomadHandle, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method,
        f"{handle.address}{path}",
        json=body,
        headers={"X-Nomad-Token": handle.management_token or ""},
        timeout=10,
    )
    response.raise_for_status()
    return response.json() if response.text.strip() else None


def _token(handle: NomadHandle, name: str, policies: list[str]) -> str:
    created = _admin(
        handle, "POST", "/v1/acl/token", {"Name": name, "Type": "client", "Policies": policies}
    )
    return str(created["SecretID"])


@pytest.fixture
def team_cluster(nomad_sim_factory: SimFactory) -> NomadHandle:
    """ACLs on; namespaces team-a and team-b; mlctl's shipped policies installed."""
    from jinja2 import Template

    nodes = [
        NodeSpec(
            "gpu-1", gpus=[GpuSpec("Tesla T4", 15360)], host_volumes={"imagenet": "/srv/imagenet"}
        ),
        NodeSpec("cpu-1", memory=8192),
    ]
    handle = nomad_sim_factory(nodes=nodes, acl=True)
    for ns in ("team-a", "team-b"):
        _admin(handle, "POST", "/v1/namespace", {"Name": ns})
        rules = Template(DS_POLICY.read_text()).render(namespace=ns)
        _admin(
            handle,
            "POST",
            f"/v1/acl/policy/mlctl-ds-{ns}",
            {"Name": f"mlctl-ds-{ns}", "Rules": rules},
        )
    for name, path in (("mlctl-viewer", VIEWER_POLICY), ("mlctl-operator", OPERATOR_POLICY)):
        _admin(handle, "POST", f"/v1/acl/policy/{name}", {"Name": name, "Rules": path.read_text()})
    return handle


def _as(
    monkeypatch: pytest.MonkeyPatch, handle: NomadHandle, token: str, ns: str, tmp: Path
) -> None:
    use_cluster(monkeypatch, handle, tmp / "store")
    monkeypatch.setenv("NOMAD_TOKEN", token)
    monkeypatch.setenv("NOMAD_NAMESPACE", ns)


def test_jupyter_gpu_token_is_readable_by_its_namespace_only(
    team_cluster: NomadHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    alice = _token(team_cluster, "alice", ["mlctl-ds-team-a"])
    _as(monkeypatch, team_cluster, alice, "team-a", tmp_path)
    monkeypatch.setenv("USER", "alice")
    created = run_cli(
        [
            "env",
            "create",
            "nb",
            "--template",
            "jupyter-gpu",
            "--gpus",
            "1",
            "--gpu-memory",
            "8192",
            "--dataset",
            "imagenet=volume:imagenet",
        ]
    )
    assert created.status == 0, created.stderr
    job = _admin(team_cluster, "GET", "/v1/job/mlctl-env-nb?namespace=team-a")
    task = job["TaskGroups"][0]["Tasks"][0]
    assert task["Resources"]["Devices"][0]["Name"] == "nvidia/gpu"
    assert task["Templates"][0]["Envvars"] is True
    assert job["TaskGroups"][0]["Volumes"]["imagenet"]["ReadOnly"] is True
    var = _admin(team_cluster, "GET", "/v1/var/nomad/jobs/mlctl-env-nb?namespace=team-a")
    secret = var["Items"]["jupyter_token"]
    assert len(secret) >= 40
    # The token is nowhere in the job, the create output, list or show.
    assert secret not in json.dumps(job)
    assert secret not in created.stdout + created.stderr
    for args in (["env", "list"], ["env", "show", "nb"], ["-o", "json", "env", "show", "nb"]):
        shown = run_cli(args)
        assert shown.status == 0 and secret not in shown.stdout + shown.stderr
    # The owner gets it from env url (text and JSON).
    status, url = mlctl_json("env", "url", "nb")
    assert status == 0 and url["token"] == secret and secret in url["url"]
    # A viewer, an operator and a data scientist of another namespace cannot read it.
    for who, policies in (
        ("viewer", ["mlctl-viewer"]),
        ("op", ["mlctl-operator"]),
        ("bob", ["mlctl-ds-team-b"]),
    ):
        other = _token(team_cluster, who, policies)
        denied = requests.get(
            f"{team_cluster.address}/v1/var/nomad/jobs/mlctl-env-nb",
            params={"namespace": "team-a"},
            headers={"X-Nomad-Token": other},
            timeout=5,
        )
        assert denied.status_code == 403, who
        monkeypatch.setenv("NOMAD_TOKEN", other)
        monkeypatch.setenv("USER", who)
        attempt = run_cli(["-o", "json", "env", "url", "nb"])
        assert secret not in attempt.stdout + attempt.stderr, who
    monkeypatch.setenv("NOMAD_TOKEN", alice)
    stopped = mlctl("env", "stop", "nb", "--purge", "--yes")
    assert stopped.status == 0, stopped.stderr
    gone = requests.get(
        f"{team_cluster.address}/v1/var/nomad/jobs/mlctl-env-nb",
        params={"namespace": "team-a"},
        headers={"X-Nomad-Token": team_cluster.management_token or ""},
        timeout=5,
    )
    assert gone.status_code == 404


def test_unplaceable_environment_explains_and_writes_nothing(
    team_cluster: NomadHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    alice = _token(team_cluster, "alice", ["mlctl-ds-team-a"])
    _as(monkeypatch, team_cluster, alice, "team-a", tmp_path)
    result = mlctl(
        "env", "create", "big", "--template", "jupyter-gpu", "--gpus", "1", "--gpu-memory", "40000"
    )
    assert result.status == 10, result.stderr
    assert "no node has 1 free nvidia/gpu with memory >= 40000 MiB" in result.stderr
    missing = mlctl(
        "env", "create", "vol", "--template", "jupyter-cpu", "--dataset", "x=volume:nope"
    )
    assert missing.status == 10 and "lacks a requested host volume" in missing.stderr
    for path in ("/v1/var/nomad/jobs/mlctl-env-big", "/v1/var/nomad/jobs/mlctl-env-vol"):
        response = requests.get(
            f"{team_cluster.address}{path}",
            params={"namespace": "team-a"},
            headers={"X-Nomad-Token": team_cluster.management_token or ""},
            timeout=5,
        )
        assert response.status_code == 404
    assert _admin(team_cluster, "GET", "/v1/jobs?namespace=team-a") == []


def test_another_namespace_cannot_create_or_see(
    team_cluster: NomadHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bob = _token(team_cluster, "bob", ["mlctl-ds-team-b"])
    _as(monkeypatch, team_cluster, bob, "team-a", tmp_path)
    result = mlctl("env", "create", "nb", "--template", "jupyter-cpu")
    assert result.status == 7, result.stderr
    viewer = _token(team_cluster, "viewer", ["mlctl-viewer"])
    monkeypatch.setenv("NOMAD_TOKEN", viewer)
    assert mlctl("env", "create", "nb", "--template", "jupyter-cpu").status == 7


def test_invalid_flags_list_every_problem(tmp_path: Path) -> None:
    spec = tmp_path / "env.yaml"
    spec.write_text(
        "name: Bad_Name\ntemplate: jupyter-cpu\nvariables: {port: high, colour: red}\n"
        "datasets: [{name: d}]\nresources: {memory: 1}\n"
    )
    result = mlctl("env", "validate", str(spec))
    assert result.status == 4
    lines = result.stderr.splitlines()
    assert any("env.yaml: name:" in line for line in lines)
    assert any("env.yaml: datasets[0]:" in line for line in lines)
    assert any("env.yaml: resources.memory:" in line for line in lines)
    assert any("variables.port" in line for line in lines)
    assert any("variables.colour" in line for line in lines)


def test_app_deploys_and_is_operated_like_a_model(
    nomad_cluster: NomadHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    app = tmp_path / "shop"
    app.mkdir()
    (app / "app.py").write_text("print('shop')\n")
    (app / "mlctl-app.yaml").write_text(
        "command: [python, -m, http.server, '${NOMAD_PORT_http}']\nport: 8000\n"
        "health_path: /\nreplicas: 2\nversion: '1.0'\n"
    )
    created = mlctl("env", "create", "shop", "--template", "python-service", "--app", str(app))
    assert created.status == 0, created.stderr
    objects = list((tmp_path / "store" / "shop-app").glob("*.tar.gz"))
    assert len(objects) == 1
    status, models = mlctl_json("status")
    assert status == 0 and [m["model"] for m in models] == ["shop"]
    assert models[0]["version"] == "1.0" and models[0]["desired"] == 2
    assert mlctl("scale", "shop", "1").status == 0
    status, envs = mlctl_json("env", "list")
    assert [(e["name"], e["template"]) for e in envs] == [("shop", "python-service")]
    status, history = mlctl_json("history", "shop")
    assert history[0]["bundle_sha256"] == objects[0].name.removesuffix(".tar.gz")
    # The same app again is the same content address: nothing new is uploaded.
    again = mlctl("env", "create", "shop", "--template", "python-service", "--app", str(app))
    assert again.status == 0 and len(list((tmp_path / "store" / "shop-app").iterdir())) == 1


def test_train_refuses_a_bad_dataset_before_anything_is_written(
    nomad_cluster: NomadHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_cluster(monkeypatch, nomad_cluster, tmp_path / "store")
    data = tmp_path / "tiny.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i * 2},x\n" for i in range(5)))
    result = mlctl("train", str(data), "--target", "label")
    assert result.status == 4
    assert "5 labelled rows; at least 20 needed" in result.stderr
    assert "label has 1 class" in result.stderr
    assert not (tmp_path / "store" / "datasets").exists()
    missing = mlctl("train", str(data), "--target", "nope")
    assert missing.status == 4 and "no column 'nope'" in missing.stderr
    good = tmp_path / "good.csv"
    good.write_text("a,b,label\n" + "".join(f"{i},{i * 2},{'xy'[i % 2]}\n" for i in range(40)))
    bad = mlctl("train", str(good), "--target", "label", "--candidates", "lgbm,svm")
    assert bad.status == 4 and "'svm' is not a classification candidate" in bad.stderr
    metric = mlctl("train", str(good), "--target", "label", "--metric", "r2")
    assert metric.status == 4 and "'r2' is not a classification metric" in metric.stderr
    assert not (tmp_path / "store" / "datasets").exists()
