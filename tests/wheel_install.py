"""Build mlctl's wheel and install it, alone, into a fresh virtualenv (offline).

Used by the tests that prove the installed package — not the checkout — works from any
directory: the model server's example and the TUI's stylesheet both ship in the wheel.
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_wheel(outdir: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = outdir.glob("mlctl-*.whl")
    return wheel


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


def venv_with_wheel(venv: Path, wheel: Path) -> Path:
    """A new venv at ``venv`` with only ``wheel`` installed in it; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    _see_installed_dependencies(python)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall",
         str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    return python
