"""The TUI ships under its own import name, ``mlctl_tui``, in the editable install and in
the wheel, with its stylesheet; ``mlctl tui`` finds it in both."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.wheel_install import build_wheel, venv_with_wheel

REPO = Path(__file__).resolve().parents[2]


def test_the_editable_install_imports_the_checkout():
    import mlctl_tui
    from mlctl_tui.app import MlctlApp

    package = Path(mlctl_tui.__file__).parent
    assert package == REPO / "tui" / "mlctl_tui"
    assert (package / MlctlApp.CSS_PATH).is_file()


@pytest.mark.slow
def test_the_wheel_ships_the_tui_and_mlctl_tui_runs_from_it(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "mlctl_tui/app.tcss",
        "mlctl_tui/app.py",
        "mlctl_tui/cli.py",
        "mlctl_tui/screens/models.py",
        "mlctl_tui/widgets/common/row_table.py",
    ):
        assert shipped in names
    assert not any(n.startswith(("tui/", "tests/")) for n in names)

    venv = tmp_path / "venv"
    python = venv_with_wheel(venv, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCTL_", "PYTHONPATH"))}
    probe = (
        "import mlctl_tui, pathlib; from mlctl_tui.app import MlctlApp; "
        "p = pathlib.Path(mlctl_tui.__file__).parent; "
        "print(p); print((p / MlctlApp.CSS_PATH).is_file())"
    )
    found = subprocess.run(
        [str(python), "-c", probe],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert found[0].startswith(str(venv)) and found[1] == "True"
    helped = subprocess.run(
        [str(venv / "bin" / "mlctl"), "tui", "--help"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "mlctl tui --readonly" in helped.stdout
