"""Shared fixtures: every test runs with the developer's own config and tokens kept out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from mlctl import redact

REPO_ROOT = Path(__file__).resolve().parent.parent

# CI explores the same examples on every run, so a landing never hinges on a lucky draw;
# developers' runs keep drawing new ones (and hypothesis keeps what failed in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Fixture plugins of the simulators and other shared helpers; each area adds its own line.
pytest_plugins: list[str] = [
    "tests.bundle_fixtures",
    "tests.simulators.vault.fixtures",
    "tests.simulators.nomad.fixtures",
    "tests.integration.monitor_servers",  # webhook sink, SMTP (aiosmtpd), Alertmanager
]

_HASHICORP_ENV = (
    "NOMAD_ADDR",
    "NOMAD_TOKEN",
    "NOMAD_NAMESPACE",
    "NOMAD_REGION",
    "NOMAD_CACERT",
    "NOMAD_SKIP_VERIFY",
    "NOMAD_CLIENT_CERT",
    "NOMAD_CLIENT_KEY",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_CACERT",
    "VAULT_SKIP_VERIFY",
)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point config and state at a temporary home and drop HashiCorp/mlctl variables."""
    import os

    for name in list(os.environ):
        if name in _HASHICORP_ENV or name.startswith("MLCTL_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    redact.forget_all()
    yield
    redact.forget_all()


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
