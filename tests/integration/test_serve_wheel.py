"""The README's first command after a non-editable install: wheel -> fresh venv -> --once."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.wheel_install import build_wheel, venv_with_wheel

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_installed_wheel_serves_the_shipped_example_from_any_directory(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    python = venv_with_wheel(venv, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCTL_", "PYTHONPATH"))}
    located = subprocess.run(
        [str(python), "-c", "import mlctl; print(mlctl.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in located.stdout, "the venv must import the wheel, not the checkout"
    done = subprocess.run(
        [str(venv / "bin" / "mlctl"), "serve", "--once", '{"features": [[5.1, 3.5, 1.4, 0.2]]}'],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"predictions": ["setosa"]}
    assert "/_data/examples/iris" in done.stderr
