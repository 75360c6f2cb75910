"""A directory store: for a share (NFS, CephFS…) that every Nomad client mounts too.

Nomad reads the object through go-getter's file getter. Nomad 1.5+ sandboxes artifact
downloads: allow the directory with the client's ``artifact { filesystem_isolation_extra_paths }``
(Nomad 1.8+) or ``disable_filesystem_isolation``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from urllib.parse import quote

from mlctl.artifacts.base import (
    CHUNK_SIZE,
    MAX_OBJECT_BYTES,
    ArtifactRef,
    Progress,
    check_key,
    object_key,
    upload_once,
)
from mlctl.digest import sha256_file
from mlctl.errors import InvalidInput, NotFound, PermissionDenied


class FileStore:
    """Objects under ``root``; writes are atomic (temporary file, fsync, rename)."""

    def __init__(self, root: Path, *, read_base: str | None = None) -> None:
        self.root = root
        self._read_base = (read_base or root.as_uri()).rstrip("/")

    def _path(self, name: str, sha256: str) -> Path:
        return self.root / object_key(name, sha256)

    def read_url(self, *, name: str, sha256: str) -> str:
        return f"{self._read_base}/{quote(object_key(name, sha256))}"

    def exists(self, *, name: str, sha256: str, size: int | None = None) -> bool:
        path = self._path(name, sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def upload(
        self, path: Path, *, name: str, sha256: str, progress: Progress | None = None
    ) -> ArtifactRef:
        def write(size: int) -> None:
            if not self.root.is_dir():
                raise NotFound(
                    f"artifact store directory {self.root} does not exist",
                    hint="mount the shared directory, or fix MLCTL_ARTIFACT_STORE",
                )
            try:
                self._copy_atomically(path, self._path(name, sha256), size, progress)
            except PermissionError as exc:
                raise PermissionDenied(
                    f"cannot write to artifact store {self.root}: {exc}"
                ) from exc

        return upload_once(self, path, name=name, sha256=sha256, write=write)

    def verify(self, *, name: str, sha256: str) -> bool:
        path = self._path(name, sha256)
        return path.is_file() and sha256_file(path) == sha256

    def object_url(self, key: str) -> str:
        return f"{self._read_base}/{quote(check_key(key))}"

    def put_object(self, key: str, path: Path) -> None:
        target = self.root / check_key(key)
        try:
            self._copy_atomically(path, target, path.stat().st_size, None)
        except PermissionError as exc:
            raise PermissionDenied(f"cannot write to artifact store {self.root}: {exc}") from exc

    def get_object(self, key: str) -> bytes | None:
        target = self.root / check_key(key)
        if not target.is_file():
            return None
        if target.stat().st_size > MAX_OBJECT_BYTES:
            raise InvalidInput(f"{target}: larger than {MAX_OBJECT_BYTES} bytes")
        return target.read_bytes()

    @staticmethod
    def _copy_atomically(source: Path, target: Path, size: int, progress: Progress | None) -> None:
        """Readers see either no object or the whole object, never a partial one."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with source.open("rb") as src, os.fdopen(fd, "wb") as dst:
                done = 0
                for chunk in iter(lambda: src.read(CHUNK_SIZE), b""):
                    dst.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, size)
                dst.flush()
                os.fsync(dst.fileno())
            tmp.chmod(0o644)  # Nomad clients read it as another user
            tmp.replace(target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
