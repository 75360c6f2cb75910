"""Where ``mlctl local`` keeps its state (``Settings.local_dir``, by default the user's
data directory: ``~/.local/share/mlctl/local`` on Linux)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalPaths:
    """The files of one local runtime (the directory is 0700, secrets 0600)."""

    root: Path

    @property
    def state(self) -> Path:
        """SQLite: jobs, versions, allocations, deployments, ACL, variables, the index."""
        return self.root / "state.db"

    @property
    def token(self) -> Path:
        """The management token the ``local`` context sends."""
        return self.root / "management.token"

    @property
    def status(self) -> Path:
        """Written by the running daemon: pid, address, engine, what it found."""
        return self.root / "daemon.json"

    @property
    def log(self) -> Path:
        """The daemon's own log (``mlctl local logs``)."""
        return self.root / "daemon.log"

    @property
    def lock(self) -> Path:
        return self.root / "daemon.lock"

    @property
    def artifacts(self) -> Path:
        """The ``file://`` artifact store of the ``local`` context."""
        return self.root / "artifacts"

    @property
    def allocs(self) -> Path:
        return self.root / "allocs"

    @property
    def nomad_config(self) -> Path:
        """``--engine nomad``: the agent's configuration."""
        return self.root / "nomad-agent.hcl"


def write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600 (tokens, the daemon's status)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
