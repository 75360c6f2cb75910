"""`mlctl cluster provision` end to end: a real ansible-runner run on this machine.

The playbook (tests/fixtures/ansible/local-playbook.yml) only writes inside a temporary
directory, so the run is real but harmless.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli_runner import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ansible"
INVENTORY = FIXTURES / "local-inventory.yml"
PLAYBOOK = FIXTURES / "local-playbook.yml"

pytestmark = pytest.mark.slow


def provision(workdir: Path, *extra: str, json_output: bool = False):
    args = ["-o", "json"] if json_output else []
    args += ["cluster", "provision", "-i", str(INVENTORY), "--playbook", str(PLAYBOOK)]
    args += ["-e", f"workdir={workdir}", *extra]
    return run_cli(args)


def test_a_run_shows_progress_and_a_summary_and_a_rerun_changes_nothing(tmp_path):
    workdir = tmp_path / "work"
    first = provision(workdir)
    assert first.status == 0, first.stderr
    assert (workdir / "hello.txt").read_text() == "hello\n"
    assert "PLAY Write a greeting into a temporary directory" in first.stderr
    assert "task Write the greeting file" in first.stderr
    header, row = first.stdout.splitlines()[:2]
    assert header.split() == ["HOST", "STATUS", "OK", "CHANGED", "FAILED", "SKIPPED", "UNREACHABLE"]
    assert row.split() == ["local", "ok", "2", "2", "0", "2", "0"]
    assert "2 changed" in first.stderr

    second = provision(workdir, json_output=True)
    assert second.status == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["status"] == "ok"
    assert summary["changed"] == 0
    assert summary["hosts"] == [
        {
            "host": "local",
            "status": "ok",
            "ok": 2,
            "changed": 0,
            "failed": 0,
            "skipped": 2,
            "unreachable": 0,
            "rescued": 0,
            "ignored": 0,
        }
    ]
    assert Path(summary["log"]).is_file()


def test_a_failing_task_exits_14_naming_host_task_message_and_log(tmp_path):
    result = provision(tmp_path / "work", "-e", "fail_message=disk is full")
    assert result.status == 14
    error = [ln for ln in result.stderr.splitlines() if ln.startswith("mlctl: error:")]
    assert len(error) == 1
    assert "host local: task 'Fail when asked to': asked to fail: disk is full" in error[0]
    log = Path(error[0].rsplit("full log: ", 1)[1].rstrip(")"))
    assert log.is_file()
    assert "asked to fail: disk is full" in log.read_text()
    assert "local  failed" in result.stdout


def test_json_failure_is_one_summary_object(tmp_path):
    result = provision(tmp_path / "work", "-e", "fail_message=nope", json_output=True)
    assert result.status == 14
    summary = json.loads(result.stdout)  # exactly one JSON document
    assert summary["status"] == "failed"
    assert summary["failures"] == [
        {
            "host": "local",
            "task": "Fail when asked to",
            "message": "asked to fail: nope",
            "unreachable": False,
        }
    ]


def test_check_mode_changes_nothing(tmp_path):
    workdir = tmp_path / "work"
    result = provision(workdir, "--check")
    assert result.status == 0, result.stderr
    assert not workdir.exists()


def test_extra_vars_never_reach_the_command_line_or_the_kept_run(tmp_path):
    secret = "hunter2-very-secret"
    result = provision(tmp_path / "work", "-e", f"some_password={secret}", json_output=True)
    assert result.status == 0, result.stderr
    run_dir = Path(json.loads(result.stdout)["log"]).parents[2]
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="ignore"), path
    command = json.loads(next(run_dir.rglob("command")).read_text())
    assert "env" not in command  # ansible-runner's copy of the environment is dropped
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"


def test_an_unreadable_inventory_fails_with_ansibles_reason(tmp_path):
    inventory = tmp_path / "broken.yml"
    inventory.write_text("all:\n  hosts: [not, a, mapping]\n")
    result = run_cli(["cluster", "provision", "-i", str(inventory), "--playbook", str(PLAYBOOK)])
    assert result.status == 14
    assert "broken.yml" in result.stderr and "inventory" in result.stderr.lower()


def test_an_inventory_without_matching_hosts_is_a_failure(tmp_path):
    result = provision(tmp_path / "work", "--limit", "nosuchhost")
    assert result.status == 14
    assert "mlctl: error: ansible-playbook: [ERROR]: Specified inventory" in result.stderr
    assert "no hosts to target" in result.stderr


def test_an_inventory_whose_hosts_no_play_targets_is_a_failure(tmp_path):
    inventory = tmp_path / "other.yml"
    inventory.write_text("all:\n  hosts:\n    elsewhere:\n      ansible_connection: local\n")
    result = run_cli(["cluster", "provision", "-i", str(inventory), "--playbook", str(PLAYBOOK)])
    assert result.status == 14
    assert "is in a group the playbook targets" in result.stderr


def test_context_from_a_generated_inventory(tmp_path):
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        yaml.safe_dump(
            {
                "hosts": [
                    {
                        "name": "ctl",
                        "address": "10.1.0.10",
                        "roles": ["server", "vault", "artifact_store"],
                    },
                    {"name": "gpu", "address": "10.1.0.21", "roles": ["gpu"]},
                ]
            }
        )
    )
    inventory = tmp_path / "lab.yml"
    assert run_cli(["cluster", "inventory", str(hosts), "--out", str(inventory)]).status == 0
    result = run_cli(["-o", "json", "cluster", "context", "-i", str(inventory)])
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout) == {
        "context": "lab",
        "nomad_addr": "http://10.1.0.10:4646",
        "vault_addr": "http://10.1.0.10:8200",
        "artifact_store": "http://10.1.0.10/models",
    }
    shown = run_cli(["-o", "json", "context", "show"])
    assert json.loads(shown.stdout)["nomad_addr"] == "http://10.1.0.10:4646"
