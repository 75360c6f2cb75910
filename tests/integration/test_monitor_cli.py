"""``mlctl monitor deploy`` and ``mlctl vault monitor-credentials``: the monitor as a
Nomad job with its own least-privilege identity, its secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from mlctl.errors import ExitStatus
from mlctl.local.engine.topology import default_cluster
from mlctl.settings import Settings
from tests.cli_runner import run_cli
from tests.integration.monitor_support import headers
from tests.simulators.nomad.fixtures import NomadHandle, SimFactory

CONFIG = """
state_namespace: default
intervals: {rules: 5s, probe: 15s}
route:
  receiver: default
  group_by: [alertname, model]
receivers:
  - name: default
    webhook:
      - url: https://hooks.example/alerts
        bearer_token: {env: HOOK_TOKEN}
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(CONFIG)
    return path


def test_the_rendered_job_parses_in_nomad(
    nomad_cluster: NomadHandle, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOMAD_ADDR", nomad_cluster.address)
    result = run_cli(
        ["monitor", "deploy", "--render", "--credentials", "approle", "--config", str(config_file)]
    )
    assert result.status == 0, result.stderr
    hcl = result.stdout
    assert 'nomadVar \\"nomad/jobs/mlctl-monitor\\"' in hcl
    parsed = requests.post(
        f"{nomad_cluster.address}/v1/jobs/parse",
        json={"JobHCL": hcl, "Canonicalize": True},
        headers=headers(nomad_cluster.management_token),
        timeout=10,
    )
    assert parsed.status_code == 200, parsed.text
    job = parsed.json()
    (group,) = job["TaskGroups"]
    assert group["Count"] == 1 and group["Services"][0]["Checks"][0]["Path"] == "/healthz"
    (task,) = group["Tasks"]
    assert task["Config"]["args"][:2] == ["monitor", "run"]
    config, approle = task["Templates"]
    assert "bearer_token" in config["EmbeddedTmpl"] and "HOOK_TOKEN" in config["EmbeddedTmpl"]
    assert approle["Envvars"] is True and "secret_id" in approle["EmbeddedTmpl"]


def test_without_vault_the_job_reads_a_nomad_token_from_its_variable(
    nomad_cluster: NomadHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOMAD_ADDR", nomad_cluster.address)
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    result = run_cli(["monitor", "deploy", "--render"])  # auto: no Vault configured
    assert result.status == 0, result.stderr
    assert "NOMAD_TOKEN={{ .nomad_token }}" in result.stdout
    assert "secret_id" not in result.stdout and "secrets/nomad-token.env" in result.stdout


def test_deploy_registers_the_monitor_and_watches_it_become_healthy(
    nomad_cluster: NomadHandle, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOMAD_ADDR", nomad_cluster.address)
    result = run_cli(["-o", "json", "monitor", "deploy", "--config", str(config_file)])
    assert result.status == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert (outcome["job_id"], outcome["outcome"]) == ("mlctl-monitor", "successful")
    if not nomad_cluster.management_token:  # no Vault, no ACLs: the monitor needs no token
        assert "runs without ACLs; the monitor needs no token" in result.stderr


def test_a_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "monitor.yaml"
    bad.write_text("route: {receiver: pager}\nintervals: {rules: soon}\nsurprise: 1\n")
    result = run_cli(["monitor", "deploy", "--render", "--config", str(bad)])
    assert result.status == ExitStatus.INVALID
    (line,) = result.stderr.strip().splitlines()
    assert "intervals.rules: 'soon' is not a duration" in line
    assert "surprise: Extra inputs are not permitted" in line
    bad.write_text("route: {receiver: pager}\n")
    result = run_cli(["monitor", "deploy", "--render", "--config", str(bad)])
    assert result.status == ExitStatus.INVALID
    assert "route names receiver 'pager', which is not defined" in result.stderr


def test_monitor_credentials_are_handed_over_unseen_and_work(
    access_cluster: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cluster = access_cluster
    management = cluster.management_token
    monkeypatch.setenv("VAULT_ADDR", cluster.vault_addr)
    monkeypatch.setenv("NOMAD_ADDR", cluster.nomad_addr)
    monkeypatch.setenv("VAULT_TOKEN", cluster.root_token)
    boot = run_cli(["vault", "bootstrap", "--nomad-token-stdin"], stdin=management + "\n")
    assert boot.status == 0, boot.stderr
    monkeypatch.setenv("NOMAD_TOKEN", management)
    result = run_cli(["-o", "json", "vault", "monitor-credentials"])
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout)["variable"] == "nomad/jobs/mlctl-monitor"
    stored = requests.get(
        f"{cluster.nomad_addr}/v1/var/nomad/jobs/mlctl-monitor",
        headers=headers(management),
        timeout=5,
    ).json()["Items"]
    assert set(stored) == {"role_id", "secret_id"}
    assert stored["secret_id"] not in result.stdout + result.stderr

    # What the monitor job's template hands the task is enough to act as the monitor:
    # log in with the AppRole, mint a Nomad token of policy nomad-monitor, follow Nomad.
    from mlctl import session

    env = {"MLCTL_MONITOR_ROLE_ID": stored["role_id"],
           "MLCTL_MONITOR_SECRET_ID": stored["secret_id"]}  # fmt: skip
    settings = Settings(nomad_addr=cluster.nomad_addr, vault_addr=cluster.vault_addr,
                        state_dir=tmp_path / "state")  # fmt: skip
    token = session.monitor(settings, env=env).follower.tokens.current()
    assert token and token != management
    me = requests.get(
        f"{cluster.nomad_addr}/v1/acl/token/self", headers=headers(token), timeout=5
    ).json()
    assert me["Type"] == "client"  # the monitor's policy (directly, or through a role)
    submit = requests.post(
        f"{cluster.nomad_addr}/v1/jobs",
        json={"Job": {"ID": "x", "Name": "x", "TaskGroups": []}},
        headers=headers(token),
        timeout=5,
    )
    assert submit.status_code == 403  # least privilege: it never submits jobs
    with requests.get(
        f"{cluster.nomad_addr}/v1/event/stream",
        params=[("namespace", "*"), ("topic", "Job"), ("topic", "Node"), ("index", "1")],
        headers=headers(token),
        stream=True,
        timeout=10,
    ) as stream:
        assert stream.status_code == 200


def test_with_acls_deploy_makes_the_token_and_a_lesser_token_is_told_what_is_needed(
    nomad_sim_factory: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = nomad_sim_factory(nodes=default_cluster(), acl=True)
    management = headers(cluster.management_token)
    monkeypatch.setenv("NOMAD_ADDR", cluster.address)
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.setenv("NOMAD_TOKEN", str(cluster.management_token))
    made = run_cli(["monitor", "deploy", "--detach"])
    assert made.status == 0, made.stderr
    assert "created a Nomad token with policy mlctl-monitor" in made.stderr
    stored = requests.get(
        f"{cluster.address}/v1/var/nomad/jobs/mlctl-monitor", headers=management, timeout=10
    ).json()["Items"]["nomad_token"]
    own = requests.get(
        f"{cluster.address}/v1/acl/token/self", headers=headers(stored), timeout=10
    ).json()
    assert own["Policies"] == ["mlctl-monitor"] and own["Name"] == "mlctl-monitor@default"
    assert stored not in made.stdout + made.stderr

    lesser = requests.post(
        f"{cluster.address}/v1/acl/token",
        json={"Name": "operator", "Type": "client", "Policies": ["mlctl-monitor"]},
        headers=management,
        timeout=10,
    )
    monkeypatch.setenv("NOMAD_TOKEN", lesser.json()["SecretID"])
    refused = run_cli(["monitor", "deploy", "--detach"])
    assert refused.status == int(ExitStatus.PERMISSION), refused.stderr
    assert "cannot make the monitor's Nomad token" in refused.stderr
    assert "management token" in refused.stderr and "Traceback" not in refused.stderr
