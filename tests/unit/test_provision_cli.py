"""`mlctl cluster` argument handling that needs no Ansible run."""

from __future__ import annotations

import json

import pytest

from mlctl import redact
from mlctl.cli.cluster import parse_extra_vars
from mlctl.errors import InvalidInput
from mlctl.provision.vagrant import parse_status
from tests.cli_runner import run_cli


def test_extra_vars_are_strings_and_files():
    pairs, files = parse_extra_vars(("nomad_version=1.10", "a=b=c", "@secrets.yml"))
    assert pairs == {"nomad_version": "1.10", "a": "b=c"}
    assert [f.name for f in files] == ["secrets.yml"]


def test_secret_looking_extra_vars_are_redacted():
    parse_extra_vars(("vault_root_token=s.abcdefgh1234",))
    assert redact.scrub("token s.abcdefgh1234") == "token [redacted]"


@pytest.mark.parametrize("value", ["novalue", "1abc=x", "bad-key=x"])
def test_bad_extra_vars_are_refused(value):
    with pytest.raises(InvalidInput, match="expected KEY=VALUE or @FILE"):
        parse_extra_vars((value,))


def test_a_missing_inventory_is_not_found(tmp_path):
    result = run_cli(["cluster", "provision", "-i", str(tmp_path / "none.yml")])
    assert result.status == 5
    assert "none.yml: inventory does not exist" in result.stderr


def test_an_unknown_playbook_is_not_found(tmp_path):
    inventory = tmp_path / "inv.yml"
    inventory.write_text("all: {}\n")
    result = run_cli(["cluster", "provision", "-i", str(inventory), "--playbook", "nope.yml"])
    assert result.status == 5
    assert "nope.yml: no such playbook" in result.stderr


def test_vagrant_commands_say_when_vagrant_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "Vagrantfile").write_text("")
    result = run_cli(["cluster", "status", "--dir", str(tmp_path)])
    assert result.status == 5
    assert "vagrant is not installed" in result.stderr


def test_vagrant_commands_need_a_vagrantfile(tmp_path):
    result = run_cli(["cluster", "status", "--dir", str(tmp_path)])
    assert result.status == 5
    assert "no Vagrantfile here" in result.stderr


def test_vagrant_machine_readable_status_is_parsed():
    text = (
        "1700000000,mlctl-server,metadata,provider,virtualbox\n"
        "1700000000,mlctl-server,provider-name,virtualbox\n"
        "1700000000,mlctl-server,state,running\n"
        "1700000000,mlctl-client-1,provider-name,virtualbox\n"
        "1700000000,mlctl-client-1,state,not_created\n"
        "1700000000,,ui,info,Current machine states:\n"
    )
    assert parse_status(text) == [
        {"name": "mlctl-server", "state": "running", "provider": "virtualbox"},
        {"name": "mlctl-client-1", "state": "not_created", "provider": "virtualbox"},
    ]


def test_cluster_help_has_examples():
    result = run_cli(["cluster", "provision", "--help"])
    assert result.status == 0
    assert "mlctl cluster provision -i inventory.yml --check --diff" in result.stdout


def _unreachable(host: str) -> dict:
    return {
        "event": "runner_on_unreachable",
        "event_data": {
            "host": host,
            "task": "Gathering Facts",
            "res": {"msg": f"Failed to connect to the host via ssh: {host}: No route to host"},
        },
    }


def _fake_run(monkeypatch, tmp_path, hosts: list[str], repeats: int):
    """run_playbook replaced by a run whose hosts are unreachable, each event ``repeats`` times."""
    from mlctl.provision import runner
    from mlctl.provision.events import RunState

    def fake(request, runs_dir, on_event=None):
        state = RunState()
        events = [_unreachable(h) for h in hosts for _ in range(repeats)]
        events.append(
            {"event": "playbook_on_stats", "event_data": {"dark": dict.fromkeys(hosts, 1)}}
        )
        for event in events:
            state.apply(event)
            if on_event:
                on_event(state, event)
        log = tmp_path / "stdout"
        log.write_text("")
        return runner.RunResult(state, "failed", 4, tmp_path, log, "run-1", 1.0)

    monkeypatch.setattr(runner, "run_playbook", fake)
    inventory = tmp_path / "inv.yml"
    inventory.write_text("all: {}\n")
    return inventory


@pytest.mark.parametrize("hosts", [["gpu-1"], ["gpu-1", "gpu-2"]])
@pytest.mark.parametrize("output", [[], ["-o", "json"]])
def test_each_unreachable_host_message_is_printed_once(monkeypatch, tmp_path, hosts, output):
    inventory = _fake_run(monkeypatch, tmp_path, hosts, repeats=3)
    result = run_cli(["cluster", "provision", "-i", str(inventory), *output])
    assert result.status == 14
    for host in hosts:
        said = result.stderr.count(f"{host}: No route to host")
        if output:  # scripts read the messages from the JSON summary, once per failure
            assert said <= 1, result.stderr
            summary = json.loads(result.stdout)
            assert [f["host"] for f in summary["failures"]].count(host) == 1
        else:
            assert said == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlctl: error:")]
    assert len(errors) == 1 and all(host in errors[0] for host in hosts), result.stderr


def test_with_the_live_table_the_failure_is_said_once_at_the_end(monkeypatch, tmp_path):
    from mlctl.provision import display

    original = display.Progress.__init__

    def live_init(self, stream=None, live=None):
        original(self, stream, live=True)  # as on a terminal: a table, no message lines

    monkeypatch.setattr(display.Progress, "__init__", live_init)
    inventory = _fake_run(monkeypatch, tmp_path, ["gpu-1"], repeats=3)
    result = run_cli(["cluster", "provision", "-i", str(inventory)])
    assert result.status == 14
    assert result.stderr.count("No route to host") == 1, result.stderr


HOSTS = """\
vars:
  nomad_nvidia_plugin_sha256: "<sha256 of nomad-device-nvidia_1.1.0_linux_amd64.zip>"
  artifact_store_users:
    - {name: mlctl, password_hash: "<output of: openssl passwd -6>"}
hosts:
  - {name: ctl-1, address: 10.0.0.10, roles: [server, vault, artifact_store], user: debian}
  - {name: gpu-1, address: 10.0.0.21, roles: [gpu], user: debian}
"""


def test_the_readme_placeholders_are_refused(tmp_path):
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(HOSTS)
    result = run_cli(["cluster", "inventory", str(hosts), "--out", str(tmp_path / "inv.yml")])
    assert result.status == 4
    assert "vars.nomad_nvidia_plugin_sha256: '<sha256 of" in result.stderr
    assert "vars.artifact_store_users[0].password_hash: '<output of" in result.stderr
    assert "is a placeholder" in result.stderr
    assert not (tmp_path / "inv.yml").exists()


def test_a_malformed_checksum_is_refused(tmp_path):
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        HOSTS.replace('"<sha256 of nomad-device-nvidia_1.1.0_linux_amd64.zip>"', '"abc"').replace(
            '"<output of: openssl passwd -6>"', '"$6$salt$hash"'
        )
    )
    result = run_cli(["cluster", "inventory", str(hosts)])
    assert result.status == 4
    assert "'abc' is not a sha256" in result.stderr


def test_json_output_of_the_inventory_is_json(tmp_path):
    import json

    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        HOSTS.replace(
            '"<sha256 of nomad-device-nvidia_1.1.0_linux_amd64.zip>"', '"' + "a" * 64 + '"'
        ).replace('"<output of: openssl passwd -6>"', '"$6$salt$hash"')
    )
    printed = run_cli(["-o", "json", "cluster", "inventory", str(hosts)])
    assert printed.status == 0, printed.stderr
    assert json.loads(printed.stdout)["all"]["children"]["gpu_clients"]["hosts"] == {"gpu-1": None}
    written = run_cli(
        ["cluster", "inventory", str(hosts), "--out", str(tmp_path / "i.yml"), "-o", "json"]
    )
    assert json.loads(written.stdout) == {
        "path": str(tmp_path / "i.yml"),
        "hosts": ["ctl-1", "gpu-1"],
    }
