"""Nomad's ``artifact`` block for real tasks: download, verify the checksum, unpack.

Like go-getter as Nomad configures it: ``file://`` and ``http(s)://`` sources (TLS
verified), ``options { checksum = "sha256:<hex>" }`` (also sha512, sha1, md5) checked
on the downloaded bytes, archives unpacked into ``destination`` unless
``options { archive = "false" }``, other files saved under their own name.  Archives
go through mlctl's safe unpacker (no absolute paths, ``..``, links or device files;
size and member limits), so only ``.tar.gz``/``.tgz`` archives are unpacked.  Every
failure is an :class:`ArtifactError` with go-getter-like wording for the task event.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from mlctl.bundle.limits import MAX_TOTAL_BYTES
from mlctl.errors import MlctlError

JSON = dict[str, Any]
ARCHIVES = (".tar.gz", ".tgz")
OTHER_ARCHIVES = (".zip", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".bz2", ".xz")
HASHES = {
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
    "sha1": hashlib.sha1,
    "md5": hashlib.md5,
}
CHUNK = 1024 * 1024
HTTP_TIMEOUT = (10.0, 60.0)  # connect, read (seconds between bytes)


class ArtifactError(Exception):
    """The artifact could not be fetched; the text goes into the task event."""


def _within(base: Path, relative: str) -> Path:
    """``relative`` under ``base``; an escape (``..``, absolute) is refused like Nomad does."""
    target = (base / relative).resolve()
    if target != base.resolve() and base.resolve() not in target.parents:
        raise ArtifactError(f'artifact destination path escapes the task directory: "{relative}"')
    return target


def _checksum(options: JSON) -> tuple[str, str] | None:
    spec = options.get("checksum")
    if not spec:
        return None
    kind, sep, value = str(spec).partition(":")
    if not sep or kind not in HASHES or not value:
        raise ArtifactError(
            f'invalid checksum "{spec}": use type:value with one of {", ".join(HASHES)}'
        )
    return kind, value.lower()


def _download(source: str, into: Path, limit: int) -> None:
    parts = urlsplit(source)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        try:
            size = path.stat().st_size
            if size > limit:
                raise ArtifactError(f"{source}: {size} bytes is more than the {limit} allowed")
            shutil.copyfile(path, into)
        except FileNotFoundError:
            raise ArtifactError(f"stat {path}: no such file or directory") from None
        except OSError as exc:
            raise ArtifactError(f"{path}: {exc.strerror}") from exc
        return
    if parts.scheme not in ("http", "https"):
        raise ArtifactError(f'download not supported for scheme "{parts.scheme}"')
    try:
        with requests.get(source, stream=True, timeout=HTTP_TIMEOUT) as response:
            if response.status_code != 200:
                raise ArtifactError(f"GET error: bad response code: {response.status_code}")
            written = 0
            with into.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise ArtifactError(f"{source}: more than the {limit} bytes allowed")
                    out.write(chunk)
    except requests.RequestException as exc:
        raise ArtifactError(f"GET error: {type(exc).__name__}: {exc}") from exc


def _verify(path: Path, checksum: tuple[str, str] | None) -> None:
    if checksum is None:
        return
    kind, expected = checksum
    digest = HASHES[kind]()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    got = digest.hexdigest()
    if got != expected:
        raise ArtifactError(
            f"Checksums did not match for {path.name}.\nExpected: {expected}\nGot: {got}"
        )


def _unpack(archive: Path, destination: Path) -> None:
    from mlctl.bundle.unpack import safe_unpack

    try:
        if not destination.exists() or not any(destination.iterdir()):
            safe_unpack(archive, destination)
            return
        staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".artifact-"))
        try:
            unpacked = safe_unpack(archive, staging / "tree")
            for entry in unpacked.iterdir():
                if (destination / entry.name).exists():
                    raise ArtifactError(f"{destination / entry.name} already exists")
                entry.rename(destination / entry.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except MlctlError as exc:
        raise ArtifactError(f"unpacking {archive.name}: {exc.one_line()}") from exc


def fetch(artifact: JSON, task_dir: Path, limit: int = MAX_TOTAL_BYTES) -> None:
    """Fetch one (already interpolated) artifact into the task directory."""
    source = str(artifact.get("GetterSource") or "")
    options = dict(artifact.get("GetterOptions") or {})
    destination = _within(task_dir, str(artifact.get("RelativeDest") or "local/"))
    mode = artifact.get("GetterMode") or "any"
    name = Path(unquote(urlsplit(source).path)).name or "artifact"
    archive = options.get("archive", "true").lower() != "false" and mode != "file"
    checksum = _checksum(options)
    if archive and name.endswith(OTHER_ARCHIVES):
        raise ArtifactError(f"{name}: only .tar.gz archives are unpacked by mlctl local")
    scratch = Path(tempfile.mkdtemp(dir=task_dir, prefix=".download-"))
    try:
        downloaded = scratch / name
        _download(source, downloaded, limit)
        _verify(downloaded, checksum)
        if archive and name.endswith(ARCHIVES):
            _unpack(downloaded, destination)
        elif mode == "file":
            destination.parent.mkdir(parents=True, exist_ok=True)
            downloaded.replace(destination)
        else:
            destination.mkdir(parents=True, exist_ok=True)
            downloaded.replace(destination / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
