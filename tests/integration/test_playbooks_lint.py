"""The playbooks as Ansible and ansible-lint see them, and the Vagrantfile as Ruby sees it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
ROLES = sorted(p for p in (PLAYBOOKS / "roles").iterdir() if p.is_dir())


def test_every_issue_role_exists():
    names = {role.name for role in ROLES}
    assert {"common", "docker", "nvidia", "nomad", "vault", "artifact_store"} <= names


@pytest.mark.slow
def test_site_yml_passes_ansible_syntax_check():
    inventory = ROOT / "tests" / "fixtures" / "ansible" / "chroot-inventory.yml"
    done = subprocess.run(
        ["ansible-playbook", "--syntax-check", "-i", str(inventory), str(PLAYBOOKS / "site.yml")],
        capture_output=True,
        text=True,
        env={**_env(), "MLCTL_TEST_CHROOT": "/nonexistent"},
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_playbooks_are_clean_under_the_production_profile():
    done = subprocess.run(
        ["ansible-lint", "--offline", "--profile", "production", "playbooks/"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in done.stderr + done.stdout


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_default_is_commented_and_in_the_argument_spec(role):
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) or {}
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options), "defaults and argument_specs disagree"
    lines = defaults_file.read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[a-z_0-9]+:", line):
            above = lines[index - 1] if index else ""
            # A variable is commented directly above, or shares the comment of the
            # variable group right above it (e.g. the three port numbers).
            grouped = re.match(r"^[a-z_0-9]+:", above) is not None
            assert above.startswith("#") or grouped, f"{line.split(':')[0]} has no comment"
    for name in defaults:
        assert name.startswith(role.name + "_"), f"{name} lacks the role prefix"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_services_restart_only_through_handlers(role):
    for tasks_file in (role / "tasks").glob("*.yml"):
        for task in yaml.safe_load(tasks_file.read_text()) or []:
            module = task.get("ansible.builtin.systemd_service") or {}
            assert module.get("state") not in {"restarted", "reloaded"}, (
                f"{tasks_file.name}: {task['name']} restarts outside a handler"
            )


def test_vagrantfile_is_valid_ruby():
    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.skip("ruby is not installed (scripts/test.sh installs it as root)")
    done = subprocess.run([ruby, "-c", str(ROOT / "Vagrantfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Syntax OK" in done.stdout


def test_vagrant_lab_password_hash_is_one_nginx_accepts():
    """The Vagrantfile's {SSHA} helper, run by Ruby, matches the RFC 2307 form nginx checks."""
    import base64
    import hashlib

    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.skip("ruby is not installed (scripts/test.sh installs it as root)")
    script = (
        "module Vagrant; def self.configure(_v); end; end; "
        f"load {str(ROOT / 'Vagrantfile')!r}; print ssha('lab-password')"
    )
    done = subprocess.run([ruby, "-e", script], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("{SSHA}")
    raw = base64.b64decode(done.stdout.removeprefix("{SSHA}"))
    digest, salt = raw[:20], raw[20:]
    assert hashlib.sha1(b"lab-password" + salt).digest() == digest


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
