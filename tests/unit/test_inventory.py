"""Host lists -> Ansible inventories, and inventories -> the addresses mlctl uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlctl.errors import InvalidInput, NotFound
from mlctl.inventory import build_inventory, endpoints, read_hosts_file
from tests.cli_runner import run_cli

HOSTS = """
vars:
  nomad_version: "1.10"
hosts:
  - name: ctl-1
    address: 10.0.0.10
    roles: [server, vault, artifact_store]
    user: debian
  - name: gpu-1
    address: 10.0.0.21
    ssh_address: 203.0.113.7
    port: 2222
    roles: [gpu]
    vars: {nomad_node_pool: gpu}
  - name: cpu-1
    address: cpu-1.lab.example
    roles: [client]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    return path


def test_roles_map_onto_the_groups_site_yml_uses(tmp_path):
    inventory = build_inventory(read_hosts_file(write(tmp_path, HOSTS)))["all"]
    groups = {name: sorted(group["hosts"]) for name, group in inventory["children"].items()}
    assert groups == {
        "nomad_servers": ["ctl-1"],
        "nomad_clients": ["cpu-1", "gpu-1"],
        "gpu_clients": ["gpu-1"],
        "vault_servers": ["ctl-1"],
        "artifact_store": ["ctl-1"],
    }
    assert inventory["vars"] == {"nomad_version": "1.10"}  # a string stays a string
    gpu = inventory["hosts"]["gpu-1"]
    assert gpu == {
        "ansible_host": "203.0.113.7",
        "mlctl_address": "10.0.0.21",
        "ansible_port": 2222,
        "nomad_node_pool": "gpu",
    }
    assert inventory["hosts"]["ctl-1"]["ansible_user"] == "debian"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "hosts: [{name: a, address: 10.0.0.1, roles: [server, gpux]}]",
            "hosts.yaml: hosts[0].roles[1]: 'gpux' is not one of server, client, gpu, vault, "
            "artifact_store",
        ),
        (
            "hosts: [{name: a, address: 'not an address!', roles: [server, client]}]",
            "hosts.yaml: hosts[0].address: 'not an address!' is neither an IP address nor a host",
        ),
        (
            "hosts: [{name: a, address: 10.0.0.1, roles: [server, client], colour: red}]",
            "hosts.yaml: hosts[0].colour: unknown field",
        ),
        (
            "hosts: [{name: a, address: 10.0.0.1, roles: [client]}]",
            "hosts.yaml: hosts: no host has the server role (Nomad needs at least one server)",
        ),
        (
            "hosts: [{name: a, address: 10.0.0.1, roles: [server, client]},"
            " {name: a, address: 10.0.0.2, roles: [client]}]",
            "hosts.yaml: hosts[1].name: 'a' is already used by hosts[0]",
        ),
        ("hosts: [{name: a, address: 10.0.0.1, roles: []}]", "hosts.yaml: hosts[0].roles: "),
        ("- just a list", "hosts.yaml: the top level must be a mapping with a hosts: list"),
        ("hosts: [unclosed", "hosts.yaml: line 1: not valid YAML"),
    ],
)
def test_bad_host_lists_name_the_file_field_and_problem(tmp_path, text, problem):
    with pytest.raises(InvalidInput) as caught:
        read_hosts_file(write(tmp_path, text))
    assert problem in caught.value.message.replace(str(tmp_path) + "/", "")


def test_a_missing_host_list_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        read_hosts_file(tmp_path / "nope.yaml")


def test_cli_writes_an_inventory_ansible_can_read(tmp_path):
    hosts = write(tmp_path, HOSTS)
    out = tmp_path / "inv" / "inventory.yml"
    result = run_cli(["cluster", "inventory", str(hosts), "--out", str(out)])
    assert result.status == 0, result.stderr
    assert "wrote" in result.stderr and result.stdout == ""
    data = yaml.safe_load(out.read_text())
    assert data["all"]["hosts"]["cpu-1"]["mlctl_address"] == "cpu-1.lab.example"


def test_cli_prints_the_inventory_without_out(tmp_path):
    result = run_cli(["cluster", "inventory", str(write(tmp_path, HOSTS))])
    assert result.status == 0
    assert yaml.safe_load(result.stdout)["all"]["children"]["gpu_clients"]["hosts"] == {
        "gpu-1": None
    }


def test_cli_rejects_a_bad_host_list_and_writes_nothing(tmp_path):
    out = tmp_path / "inventory.yml"
    bad = write(tmp_path, "hosts: [{name: a, address: 10.0.0.1, roles: [nope]}]")
    result = run_cli(["cluster", "inventory", str(bad), "--out", str(out)])
    assert result.status == 4
    assert "hosts[0].roles[0]: 'nope' is not one of" in result.stderr
    assert not out.exists()


def listing(**hostvars) -> dict:
    return {
        "_meta": {"hostvars": {"s1": {"ansible_host": "127.0.0.1", **hostvars}, "st": {}}},
        "nomad_servers": {"hosts": ["s1"]},
        "vault_servers": {"hosts": ["s1"]},
        "artifact_store": {"hosts": ["s1"]},
    }


def test_endpoints_use_the_cluster_address_not_the_ssh_one():
    found = endpoints(listing(mlctl_address="192.168.56.10"))
    assert found.context_values() == {
        "nomad_addr": "http://192.168.56.10:4646",
        "vault_addr": "http://192.168.56.10:8200",
        "artifact_store": "http://192.168.56.10/models",
    }


def test_endpoints_follow_tls_and_port_settings():
    found = endpoints(
        listing(
            mlctl_address="10.0.0.10",
            nomad_tls_enabled=True,
            nomad_tls_ca_src="/etc/lab/ca.pem",
            vault_tls_enabled="true",
            vault_tls_ca_src="/etc/lab/vault-ca.pem",
            artifact_store_tls_enabled=True,
            artifact_store_port=8443,
        )
    )
    assert found.nomad_addr == "https://10.0.0.10:4646"
    assert found.nomad_cacert == "/etc/lab/ca.pem"
    assert found.vault_addr == "https://10.0.0.10:8200"
    assert found.vault_cacert == "/etc/lab/vault-ca.pem"
    assert found.artifact_store == "https://10.0.0.10:8443/models"


def test_endpoints_need_a_nomad_server():
    with pytest.raises(InvalidInput, match="nomad_servers has no hosts"):
        endpoints({"_meta": {"hostvars": {}}})
