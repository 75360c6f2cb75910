"""The local test cluster: a thin wrapper around the ``vagrant`` command.

Vagrant does the work (VMs, networks, the one Ansible run over site.yml); mlctl only
finds the Vagrantfile, passes the cluster size through ``MLCTL_CLIENTS`` and reads
``vagrant status --machine-readable``. The Vagrantfile lives at the top of the source
checkout, not in the wheel, so outside a checkout pass ``--dir``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlctl.errors import NotFound, ProvisionFailed

# Where Vagrant's Ansible provisioner writes the inventory it generated.
GENERATED_INVENTORY = Path(".vagrant/provisioners/ansible/inventory/vagrant_ansible_inventory")
_CHECKOUT = Path(__file__).resolve().parents[2]


def binary() -> str:
    """The vagrant executable, or a clear error when it is not installed."""
    found = shutil.which("vagrant")
    if found is None:
        raise NotFound(
            "vagrant is not installed (needed for the local test cluster)",
            hint="install it from https://developer.hashicorp.com/vagrant/install, "
            "or provision existing machines with: mlctl cluster provision -i INVENTORY",
        )
    return found


def find_dir(explicit: Path | None) -> Path:
    """The directory holding the Vagrantfile: --dir, else the current one, else the checkout."""
    candidates = [explicit] if explicit is not None else [Path.cwd(), _CHECKOUT]
    for directory in candidates:
        if directory is not None and (directory / "Vagrantfile").is_file():
            return directory.resolve()
    where = explicit or Path.cwd()
    raise NotFound(
        f"{where}: no Vagrantfile here",
        hint="run from the mlctl source checkout or pass --dir CHECKOUT",
    )


def run(args: Sequence[str], directory: Path, env: Mapping[str, str] | None = None) -> None:
    """Run ``vagrant ARGS`` in ``directory`` with its output on the terminal."""
    command = [binary(), *args]
    merged = {**os.environ, **(env or {})}
    completed = subprocess.run(command, cwd=directory, env=merged, check=False)
    if completed.returncode != 0:
        raise ProvisionFailed(
            f"vagrant {' '.join(args)} failed (exit status {completed.returncode})",
            hint="the lines above are Vagrant's own output",
        )


def status(directory: Path) -> list[dict[str, Any]]:
    """One row per machine: name, state and provider, from Vagrant's machine-readable output."""
    completed = subprocess.run(
        [binary(), "status", "--machine-readable"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise ProvisionFailed(
            "vagrant status failed: " + (completed.stderr.strip().splitlines() or ["?"])[-1]
        )
    return parse_status(completed.stdout)


def parse_status(text: str) -> list[dict[str, Any]]:
    """Parse ``timestamp,target,type,data`` lines into machine rows."""
    machines: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        parts = line.split(",", 3)
        if len(parts) < 4 or not parts[1]:
            continue
        _, target, kind, data = parts
        row = machines.setdefault(target, {"name": target, "state": None, "provider": None})
        if kind == "state":
            row["state"] = data
        elif kind == "provider-name":
            row["provider"] = data
    return list(machines.values())
