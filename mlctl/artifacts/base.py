"""What every artifact store shares: the reference it returns, its protocol, its keys."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mlctl.bundle.schema import NAME_PATTERN, SHA256_PATTERN
from mlctl.digest import sha256_file
from mlctl.errors import InvalidInput, NotFound

Progress = Callable[[int, int], None]
"""Called as an upload advances with ``(bytes_done, bytes_total)``."""

CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True)
class ArtifactRef:
    """A bundle in the store, as a job refers to it."""

    url: str
    """Where Nomad downloads it from (the read URL; never carries credentials)."""
    sha256: str
    size: int
    uploaded: bool
    """False when the upload was skipped because the object already existed."""


class ArtifactStore(Protocol):
    """A place bundles are uploaded to and Nomad clients download from."""

    def read_url(self, *, name: str, sha256: str) -> str:
        """The URL Nomad's artifact block fetches the object from."""
        ...

    def exists(self, *, name: str, sha256: str, size: int | None = None) -> bool:
        """Whether the object is there (and, when ``size`` is given, has that size)."""
        ...

    def upload(
        self, path: Path, *, name: str, sha256: str, progress: Progress | None = None
    ) -> ArtifactRef:
        """Upload ``path`` unless the same object is already there."""
        ...

    def verify(self, *, name: str, sha256: str) -> bool:
        """Download the object and check that its content hashes to ``sha256``."""
        ...

    # Keyed objects: datasets and training results (``train/<run>/<candidate>/…``).

    def object_url(self, key: str) -> str:
        """The read URL of the object at ``key`` (see :func:`check_key`)."""
        ...

    def put_object(self, key: str, path: Path) -> None:
        """Write ``path`` at ``key``, replacing what is there (atomically where possible)."""
        ...

    def get_object(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none at ``key``."""
        ...


def object_key(name: str, sha256: str) -> str:
    """``<name>/<sha256>.tar.gz``; refuses anything that is not a model name and a sha256."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise InvalidInput(f"artifact name {name!r} is not a model name (a DNS label)")
    if not re.fullmatch(SHA256_PATTERN, sha256):
        raise InvalidInput(f"artifact sha256 {sha256!r} is not 64 lowercase hex digits")
    return f"{name}/{sha256}.tar.gz"


_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_OBJECT_BYTES = 512 * 1024 * 1024
"""Largest keyed object read back into memory (training results, not datasets)."""


def check_key(key: str) -> str:
    """``a/b/c.json``: 1-8 segments of letters, digits, ``. _ -``, no ``..``, not absolute."""
    segments = key.split("/")
    if not 1 <= len(segments) <= 8 or not all(_KEY_SEGMENT.match(s) for s in segments):
        raise InvalidInput(f"artifact key {key!r} is not a safe relative path")
    if any(s in {".", ".."} or set(s) == {"."} for s in segments):
        raise InvalidInput(f"artifact key {key!r} is not a safe relative path")
    return key


def check_source(path: Path, sha256: str) -> int:
    """The size of the bundle to upload, after checking it really has that sha256.

    A wrong hash would store the bundle under another bundle's address, and Nomad's
    checksum check would then fail the deployment far from the cause.
    """
    if not path.is_file():
        raise NotFound(f"{path}: no such bundle archive")
    actual = sha256_file(path)
    if actual != sha256:
        raise InvalidInput(
            f"{path}: sha256 is {actual}, not the expected {sha256}",
            hint="package the bundle again: mlctl model package DIR",
        )
    return path.stat().st_size


def upload_once(
    store: ArtifactStore, path: Path, *, name: str, sha256: str, write: Callable[[int], None]
) -> ArtifactRef:
    """The upload flow every store shares: check the source, skip what is there, write.

    ``write(size)`` puts the bytes in place; the object's address is its content hash,
    so an object already present at that address (with the right size) is this bundle.
    """
    size = check_source(path, sha256)
    url = store.read_url(name=name, sha256=sha256)
    if store.exists(name=name, sha256=sha256, size=size):
        return ArtifactRef(url=url, sha256=sha256, size=size, uploaded=False)
    write(size)
    return ArtifactRef(url=url, sha256=sha256, size=size, uploaded=True)


class ProgressReader:
    """A file wrapper that reports bytes read, for streaming uploads with progress.

    ``__len__`` lets requests send a Content-Length instead of a chunked body.
    """

    def __init__(self, path: Path, total: int, progress: Progress | None) -> None:
        self._handle = path.open("rb")
        self._total = total
        self._done = 0
        self._progress = progress

    def __len__(self) -> int:
        return self._total - self._done

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(CHUNK_SIZE if size is None or size < 0 else size)
        if chunk:
            self._done += len(chunk)
            if self._progress is not None:
                self._progress(self._done, self._total)
        return chunk

    def close(self) -> None:
        self._handle.close()
