"""Package a bundle as a reproducible ``<name>-<version>.tar.gz``.

The same tree always gives the same bytes (with the same Python and zlib), so an
archive's sha256 identifies its content: the artifact store and Nomad can pin it.
To get there, every varying detail is fixed: entries are sorted, times are one fixed
mtime, owners are uid/gid 0 with no names, modes are 0644 (0755 for directories and
executables), and the gzip header carries no file name and a fixed time.

The archive's root is the bundle's root (no ``name-version/`` prefix), so unpacking it
anywhere yields ``mlctl.yaml`` at the top, as Nomad's artifact stanza expects.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from mlctl.bundle.config import BundleInvalid, read_config
from mlctl.bundle.schema import BundleConfig
from mlctl.bundle.tree import Entry, EntryKind
from mlctl.bundle.validate import validate_bundle
from mlctl.errors import Conflict, InvalidInput, MlctlError

#: Default mtime of every entry and of the gzip header: the Unix epoch. Any fixed
#: value works; 0 also says plainly "this time means nothing".
FIXED_MTIME = 0
_COMPRESSLEVEL = 6  # zlib's default: most of level 9's ratio at a fraction of the time


@dataclass(frozen=True)
class PackagedBundle:
    path: Path
    sha256: str
    size: int  #: bytes of the .tar.gz
    config: BundleConfig


def archive_name(config: BundleConfig) -> str:
    return f"{config.name}-{config.version}.tar.gz"


def package_bundle(
    source_dir: Path, dest_dir: Path | None = None, *, mtime: int = FIXED_MTIME
) -> PackagedBundle:
    """Validate ``source_dir`` and write its archive into ``dest_dir`` (default: cwd).

    Raises ``BundleInvalid`` listing every error and writes nothing when the bundle is
    invalid. The archive appears atomically: a failure leaves no partial file behind.
    """
    source = source_dir.resolve()
    dest = (dest_dir or Path.cwd()).resolve()
    report = validate_bundle(source, skip=_previous_archive(source, dest))
    try:
        config = report.require_valid()
    except BundleInvalid as invalid:
        raise BundleInvalid(invalid.problems, source_dir) from None  # the path as typed
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"{dest}: cannot create the output directory: {exc}") from exc
    target = dest / archive_name(config)
    digest, size = _write_atomically(target, report.tree.entries, mtime)
    return PackagedBundle(target, digest, size, config)


def write_entries(target: Path, entries: tuple[Entry, ...]) -> tuple[str, int]:
    """Write scanned ``entries`` as a reproducible archive at ``target``: (sha256, size).

    For trees that are not model bundles (environment apps) but follow the same rules.
    """
    return _write_atomically(target, entries, FIXED_MTIME)


def _previous_archive(source: Path, dest: Path) -> frozenset[PurePosixPath]:
    """When writing into the bundle itself, last run's archive must not be packaged."""
    if dest != source and source not in dest.parents:
        return frozenset()
    try:
        name = archive_name(read_config(source))
    except MlctlError:
        return frozenset()  # validation reports why the config is unusable
    return frozenset({PurePosixPath((dest / name).relative_to(source).as_posix())})


def _write_atomically(target: Path, entries: tuple[Entry, ...], mtime: int) -> tuple[str, int]:
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            hashing = _HashingWriter(raw)
            _write_archive(hashing, entries, mtime)
            raw.flush()
            os.fsync(raw.fileno())
        temp.chmod(0o644)
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return hashing.hexdigest(), hashing.size


def _write_archive(stream: _HashingWriter, entries: tuple[Entry, ...], mtime: int) -> None:
    # filename="" keeps the temp file's name out of the gzip header.
    with (
        gzip.GzipFile(
            filename="", mode="wb", fileobj=stream, mtime=mtime, compresslevel=_COMPRESSLEVEL
        ) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for entry in entries:
            info = _tarinfo(entry, mtime)
            if entry.kind is EntryKind.DIR:
                tar.addfile(info)
                continue
            with entry.source.open("rb") as content:
                tar.addfile(info, content)
                if os.fstat(content.fileno()).st_size != entry.size:
                    raise Conflict(f"{entry.path}: changed while being packaged; try again")


def _tarinfo(entry: Entry, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.path.as_posix())
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.kind is EntryKind.DIR:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = entry.size
        info.mode = 0o755 if entry.executable else 0o644
    return info


class _HashingWriter:
    """A write-only file that hashes and counts what passes through to ``raw``."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
