"""Installed size of mlctl and each extra, each measured in a fresh virtualenv.

    python bench/install_footprint.py                 # core, serve, provision, tui, all
    python bench/install_footprint.py serve tui       # only these

Builds the wheel once, then for each target creates a venv (no system site packages),
installs ``mlctl[<extra>] @ file://<wheel>`` from the package index, and reports the
distributions and bytes it added over an empty venv (pip's own files subtracted). The
anchor is what one ``pip install .`` installed before the split (issue 14 §3: 975 MB,
64 packages), which ``all`` roughly reproduces.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = ("core", "serve", "provision", "tui", "all")
ANCHOR_MB = 975.0
ANCHOR_PACKAGES = 64


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def _packages(python: Path) -> set[str]:
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split("==")[0].lower() for line in out.splitlines() if "==" in line}


def _build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("mlctl-*.whl")
    return wheel


def measure(target: str, wheel: Path, work: Path) -> tuple[int, int]:
    """(distributions, bytes) that installing ``target`` adds to a fresh venv."""
    venv = work / f"venv-{target}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    before_size, before_pkgs = _size(venv), _packages(python)
    spec = "mlctl" if target == "core" else f"mlctl[{target}]"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         f"{spec} @ {wheel.as_uri()}"],
        check=True,
    )
    return len(_packages(python) - before_pkgs), _size(venv) - before_size


def main(argv: list[str]) -> None:
    targets = [t for t in argv if t in TARGETS] or list(TARGETS)
    with tempfile.TemporaryDirectory(prefix="mlctl-footprint-") as tmp:
        work = Path(tmp)
        wheel = _build_wheel(work / "dist")
        print(f"{'install':<28} {'packages':>8} {'MB':>8}   vs anchor ({ANCHOR_MB:.0f} MB)")
        for target in targets:
            count, size = measure(target, wheel, work)
            megabytes = size / 1e6
            spec = "pip install mlctl" if target == "core" else f"pip install 'mlctl[{target}]'"
            print(
                f"{spec:<28} {count:>8} {megabytes:>8.1f}   {megabytes / ANCHOR_MB:>5.2f}x"
                f"  ({count}/{ANCHOR_PACKAGES} packages)",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
