"""Content hashes of files: bundles, model files, stored artifacts all use sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The file's hex sha256, streamed so a multi-gigabyte model needs no memory."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
