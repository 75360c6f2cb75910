"""The roles applied for real into a Debian bookworm tree, through `mlctl cluster provision`.

The tree comes from debootstrap (cached per day and mirror, copied fresh per run) and
is reached with the community.general.chroot connection. Docker (Debian's docker.io)
and nginx are really installed into it; Nomad/Vault configuration and units are
written and checked. Only what a chroot cannot do is switched off, in the inventory
tests/fixtures/ansible/chroot-inventory.yml, each with its reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ansible"
sys.path.insert(0, str(FIXTURES))
import debootstrap_tree  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.chroot]


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "applying roles into a chroot needs root (CI runs as root)"
    if shutil.which("debootstrap") is None and not Path("/usr/sbin/debootstrap").exists():
        return "debootstrap is not installed (scripts/test.sh installs it as root)"
    return None


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory):
    """A fresh tree provisioned once, and the JSON summaries of both runs."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    tree = debootstrap_tree.fresh_copy(tmp_path_factory.mktemp("bookworm"))
    runs = []
    patch = pytest.MonkeyPatch()
    patch.setenv("MLCTL_TEST_CHROOT", str(tree))
    state_dir = tmp_path_factory.mktemp("state")
    patch.setenv("XDG_STATE_HOME", str(state_dir))
    try:
        for _ in range(2):
            result = run_cli(
                ["-o", "json", "cluster", "provision", "-i", str(FIXTURES / "chroot-inventory.yml")]
            )
            runs.append(result)
    finally:
        patch.undo()
    yield tree, runs
    shutil.rmtree(tree, ignore_errors=True)


def summary(result):
    assert result.status == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_first_run_applies_every_role_with_progress(provisioned):
    _, (first, _) = provisioned
    data = summary(first)
    assert data["status"] == "ok"
    assert data["changed"] > 10
    [host] = data["hosts"]
    assert host["host"] == "chroot" and host["failed"] == 0
    for play in (
        "PLAY Prepare every node",
        "PLAY Install Docker",
        "PLAY Install the NVIDIA container runtime",
        "PLAY Install and start Vault",
        "PLAY Install and start Nomad servers",
        "PLAY Serve model bundles",
    ):
        assert play in first.stderr
    assert "task artifact_store : Check the nginx configuration" in first.stderr


def test_second_run_changes_nothing(provisioned):
    _, (_, second) = provisioned
    data = summary(second)
    assert data["changed"] == 0, data
    assert data["hosts"][0]["changed"] == 0


def chroot(tree: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["chroot", str(tree), *command], capture_output=True, text=True)


def test_docker_and_nginx_are_installed_from_debian(provisioned):
    tree, _ = provisioned
    for package in ("docker.io", "nginx", "chrony"):
        done = chroot(tree, "dpkg-query", "-W", "-f=${Status}", package)
        assert done.stdout == "install ok installed", package


def test_nginx_accepts_the_artifact_store_site(provisioned):
    tree, _ = provisioned
    done = chroot(tree, "nginx", "-t")
    assert done.returncode == 0, done.stderr
    enabled = tree / "etc/nginx/sites-enabled/mlctl-artifacts.conf"
    assert os.readlink(enabled) == "/etc/nginx/sites-available/mlctl-artifacts.conf"
    site = (tree / "etc/nginx/sites-available/mlctl-artifacts.conf").read_text()
    assert "dav_methods PUT DELETE MKCOL;" in site
    assert "create_full_put_path on;" in site
    assert "limit_except GET HEAD" in site
    assert not (tree / "etc/nginx/sites-enabled/default").exists()
    htpasswd = tree / "etc/nginx/mlctl-artifacts.htpasswd"
    assert htpasswd.read_text().startswith("mlctl:$6$")
    assert oct(htpasswd.stat().st_mode & 0o777) == "0o640"


def hcl(path: Path) -> dict:
    import hcl2

    with path.open() as handle:
        return _unquote(hcl2.load(handle))


def _unquote(value):
    """python-hcl2 keeps string quotes (and block markers); strip them for comparison."""
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def test_nomad_configuration_parses_as_hcl(provisioned):
    tree, _ = provisioned
    agent = hcl(tree / "etc/nomad.d/nomad.hcl")
    assert agent["acl"] == [{"enabled": True}]
    assert agent["advertise"][0]["rpc"] == "127.0.0.1"
    assert agent["plugin_dir"] == "/opt/nomad/plugins"
    server = hcl(tree / "etc/nomad.d/server.hcl")["server"][0]
    assert server["bootstrap_expect"] == 1
    client = hcl(tree / "etc/nomad.d/client.hcl")
    assert client["client"][0]["node_class"] == "gpu"
    assert client["client"][0]["host_volume"][0]["mlctl-models"]["path"] == "/srv/mlctl/models"
    plugins = {name: body for block in client["plugin"] for name, body in block.items()}
    assert plugins["docker"]["config"][0]["allow_runtimes"] == ["runc", "nvidia"]
    assert plugins["nomad-device-nvidia"]["config"][0]["enabled"] is True
    assert (tree / "srv/mlctl/models").is_dir()


def test_vault_configuration_parses_as_hcl(provisioned):
    tree, _ = provisioned
    vault = hcl(tree / "etc/vault.d/vault.hcl")
    assert vault["storage"][0]["raft"]["path"] == "/opt/vault/data"
    assert vault["listener"][0]["tcp"]["address"] == "0.0.0.0:8200"
    assert vault["api_addr"] == "http://127.0.0.1:8200"
    assert vault["cluster_addr"] == "https://127.0.0.1:8201"


def test_systemd_units_are_written(provisioned):
    tree, _ = provisioned
    nomad = (tree / "etc/systemd/system/nomad.service").read_text()
    assert "ExecStart=/usr/bin/nomad agent -config /etc/nomad.d" in nomad
    vault = (tree / "etc/systemd/system/vault.service").read_text()
    assert "User=vault" in vault and "-config=/etc/vault.d/vault.hcl" in vault
    assert chroot(tree, "id", "-u", "vault").returncode == 0


def test_docker_daemon_json_has_one_owner_and_the_nvidia_runtime(provisioned):
    tree, _ = provisioned
    daemon = json.loads((tree / "etc/docker/daemon.json").read_text())
    assert daemon["runtimes"]["nvidia"]["path"] == "nvidia-container-runtime"
    assert daemon["log-opts"]["max-size"] == "50m"


def test_kernel_settings_are_written_for_boot(provisioned):
    tree, _ = provisioned
    sysctl = (tree / "etc/sysctl.d/60-mlctl.conf").read_text()
    assert "net.bridge.bridge-nf-call-iptables=1" in sysctl.replace(" ", "")
    assert "br_netfilter" in (tree / "etc/modules-load.d/mlctl.conf").read_text()
