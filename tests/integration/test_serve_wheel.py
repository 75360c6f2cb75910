"""The README's first command after a non-editable install: wheel -> fresh venv -> --once."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _site_dirs() -> list[str]:
    """The site-packages directories this interpreter imports from (a venv's and, with
    system site packages, the base interpreter's), without the source checkout."""
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir() and Path(d) != REPO]


def _see_installed_dependencies(python: Path) -> None:
    """Let a fresh venv import the dependencies already installed here, offline.

    ``venv --system-site-packages`` would only reach the *base* interpreter's packages,
    not those of the virtualenv the tests may run in. A ``.pth`` file appends this
    interpreter's site directories after the new venv's own, so the wheel installed
    into the new venv is what ``import mlctl`` finds; ``.pth`` files in the appended
    directories (such as an editable install of the checkout) are not processed.
    """
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "outer-environment.pth").write_text("\n".join(_site_dirs()) + "\n")


@pytest.mark.slow
def test_installed_wheel_serves_the_shipped_example_from_any_directory(tmp_path: Path) -> None:
    wheels = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("mlctl-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    _see_installed_dependencies(python)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--force-reinstall",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
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
