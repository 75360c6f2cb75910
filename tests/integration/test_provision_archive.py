"""The archive install path (the offline/mirror option for Nomad, Vault and the GPU plugin).

The chroot test cannot download HashiCorp's releases, so this runs the shared
``hashicorp_install`` role on this machine against a zip served from a file:// URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "ansible"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the role sets root ownership (CI runs as root)"),
]


def release(workdir: Path) -> str:
    workdir.mkdir()
    archive = workdir / "release.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("nomad")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\necho 'Nomad v1.0.0-test'\n")
    return hashlib.sha256(archive.read_bytes()).hexdigest()


def install(workdir: Path, sha256: str):
    return run_cli(
        [
            "-o", "json", "cluster", "provision",
            "-i", str(FIXTURES / "local-inventory.yml"),
            "--playbook", str(FIXTURES / "hashicorp-install.yml"),
            "-e", f"workdir={workdir}",
            "-e", f"archive_sha256={sha256}",
            "-e", f"roles_dir={ROOT / 'playbooks' / 'roles'}",
        ]
    )  # fmt: skip


def test_a_checksummed_archive_installs_once(tmp_path):
    workdir = tmp_path / "w"
    sha256 = release(workdir)
    first = install(workdir, sha256)
    assert first.status == 0, first.stderr
    binary = workdir / "bin" / "nomad"
    assert binary.read_text().startswith("#!/bin/sh")
    assert oct(binary.stat().st_mode & 0o777) == "0o755"
    again = install(workdir, sha256)
    assert json.loads(again.stdout)["changed"] == 0


def test_a_wrong_checksum_is_refused(tmp_path):
    workdir = tmp_path / "w"
    release(workdir)
    result = install(workdir, "0" * 64)
    assert result.status == 14
    assert "checksum" in result.stderr.lower()
    assert not (workdir / "bin" / "nomad").exists()


def test_an_unpinned_archive_is_refused(tmp_path):
    workdir = tmp_path / "w"
    release(workdir)
    result = install(workdir, "")
    assert result.status == 14
    assert "needs the release URL and its SHA-256" in result.stderr
