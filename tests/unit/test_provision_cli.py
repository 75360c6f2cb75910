"""`mlctl cluster` argument handling that needs no Ansible run."""

from __future__ import annotations

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
