"""Unpack a bundle archive without trusting it.

Refused, naming the member and the reason: absolute paths, ``..``, links of any kind,
device files and fifos, more members or more bytes than the limits. Links are refused
even when they point inside: ``mlctl model package`` never writes one (it stores a
symlinked file's content), and a link that is harmless alone can be a stepping stone
for a later member, so an archive with links did not come from us.

Two passes keep a refusal cheap and clean. First every header is checked before any
byte is written; then the files are written into a temporary directory beside the
target, counting the bytes actually written (a lying header or a gzip bomb is caught
there), and the directory is renamed into place only when everything succeeded. So a
refused archive leaves nothing behind, and nothing is ever written outside the target.
"""

from __future__ import annotations

import errno
import gzip
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, NoReturn

from mlctl.bundle.limits import MAX_MEMBERS, MAX_TOTAL_BYTES
from mlctl.bundle.names import name_problem, printable
from mlctl.errors import Conflict, InvalidInput, NotFound, UnsafeInput

_CHUNK = 256 * 1024
#: Largest metadata record (pax header, GNU long name) accepted: tarfile reads one
#: whole into memory, so a huge one would be a memory bomb.
_MAX_METADATA_READ = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ROOT = PurePosixPath(".")
#: Filesystem refusals that come from a member's name or place in the tree, not the disk:
#: reported as a refused member like every other, never as a raw OSError.
_NAME_ERRNOS = frozenset(
    {errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL}
)


@dataclass(frozen=True)
class _Member:
    info: tarfile.TarInfo
    path: PurePosixPath  #: normalised (no leading ./)
    is_dir: bool


def safe_unpack(
    archive: Path,
    target_dir: Path,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
) -> Path:
    """Unpack the ``.tar.gz`` at ``archive`` into ``target_dir`` (absent or empty).

    Raises ``UnsafeInput`` for a refused member, ``InvalidInput`` for a damaged archive,
    ``Conflict`` when ``target_dir`` holds files. Returns the target directory.
    """
    target = target_dir.absolute()
    _require_empty(target)
    stream_limit = max_total_bytes + (max_members + 16) * 3 * tarfile.BLOCKSIZE
    with _open_archive(archive, stream_limit) as tar:
        members = _checked_members(tar, archive, target, max_total_bytes, max_members)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.unpack-"))
        try:
            _extract(tar, members, temp, archive, max_total_bytes)
            temp.chmod(0o755)
            _move_into_place(temp, target)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
    return target


def _require_empty(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise Conflict(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise Conflict(f"{target}: directory is not empty", hint="unpack into a new directory")


def _move_into_place(temp: Path, target: Path) -> None:
    try:
        temp.rename(target)  # replaces an empty directory atomically on POSIX
    except OSError as exc:
        raise Conflict(f"{target}: cannot be replaced: {exc.strerror}") from exc


@contextmanager
def _open_archive(archive: Path, stream_limit: int) -> Iterator[tarfile.TarFile]:
    try:
        raw = archive.open("rb")
    except FileNotFoundError:
        raise NotFound(f"{archive}: no such archive") from None
    except OSError as exc:
        raise InvalidInput(f"{archive}: cannot be read: {exc.strerror}") from exc
    with raw:
        if raw.read(2) != _GZIP_MAGIC:
            raise InvalidInput(f"{archive}: not a gzip-compressed tar archive (.tar.gz)")
        raw.seek(0)
        with gzip.GzipFile(fileobj=raw, mode="rb") as decompressed:
            bounded = _BoundedReader(decompressed, stream_limit, archive)
            try:
                with tarfile.open(fileobj=bounded, mode="r:") as tar:  # type: ignore[call-overload]
                    yield tar
            except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise InvalidInput(f"{archive}: damaged archive: {exc}") from exc


def _checked_members(
    tar: tarfile.TarFile, archive: Path, target: Path, max_total_bytes: int, max_members: int
) -> list[_Member]:
    """Every member, checked from its header alone, before anything is written."""
    members: list[_Member] = []
    seen: dict[PurePosixPath, bool] = {}  # path -> is a directory
    declared = 0
    for info in tar:
        if len(members) >= max_members:
            _refuse(archive, info.name, f"more than {max_members} members")
        member = _check_member(info, archive)
        if member is None:
            continue
        _check_placement(member, seen, archive)
        _second_opinion(info, target, archive)
        declared += info.size if not member.is_dir else 0
        if declared > max_total_bytes:
            _refuse(archive, info.name, f"the files add up to more than {max_total_bytes} bytes")
        seen[member.path] = member.is_dir
        # Parents a member implies are directories too, listed or not: a later file of
        # the same name must be refused here, not found by the filesystem while writing.
        for parent in member.path.parents:
            if parent != _ROOT:
                seen.setdefault(parent, True)
        members.append(member)
    return members


def _check_member(info: tarfile.TarInfo, archive: Path) -> _Member | None:
    name = info.name
    while name.startswith("./"):
        name = name[2:]
    if name in {"", "."} and info.isdir():
        return None  # the archive's own root, as `tar -C dir -czf x .` writes it
    reason = name_problem(name) or _type_problem(info)
    if reason is not None:
        _refuse(archive, info.name, reason)
    return _Member(info, PurePosixPath(name), info.isdir())


def _type_problem(info: tarfile.TarInfo) -> str | None:
    if info.isdir() or (info.isreg() and not info.issparse()):
        return None
    kinds = [
        (info.issym, f"a symbolic link (to {info.linkname}); bundles never contain links"),
        (info.islnk, f"a hard link (to {info.linkname}); bundles never contain links"),
        (info.ischr, "a character device file"),
        (info.isblk, "a block device file"),
        (info.isfifo, "a named pipe (fifo)"),
        (info.issparse, "a sparse file (its real size is not what it declares)"),
    ]
    return next((why for test, why in kinds if test()), f"unsupported member type {info.type!r}")


def _check_placement(member: _Member, seen: dict[PurePosixPath, bool], archive: Path) -> None:
    """Each path is one thing: a file never shares its path with another file or a directory."""
    if member.path in seen:
        earlier_is_dir = seen[member.path]
        if member.is_dir and earlier_is_dir:
            return  # a directory listed twice (or after its contents) is harmless
        if earlier_is_dir:
            _refuse(archive, member.info.name, "is a file, but earlier members lie under it")
        _refuse(archive, member.info.name, "appears twice in the archive")
    for parent in member.path.parents:
        if seen.get(parent) is False:
            _refuse(archive, member.info.name, f"lies under {parent}, which is a file")


def _second_opinion(info: tarfile.TarInfo, target: Path, archive: Path) -> None:
    """Python's own ``data`` filter (3.11.4+) as a second line of defence."""
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is None:
        return
    try:
        filtered = data_filter(info, str(target))
    except tarfile.FilterError as exc:
        _refuse(archive, info.name, f"refused by tarfile's data filter: {exc}")
    if filtered.name != info.name:  # the filter rewrites e.g. absolute names; we refuse them
        _refuse(archive, info.name, "rewritten by tarfile's data filter")


def _extract(
    tar: tarfile.TarFile, members: list[_Member], root: Path, archive: Path, limit: int
) -> None:
    written = 0
    for member in members:
        path = root.joinpath(*member.path.parts)
        if root not in path.parents:  # a third check, at the point of writing
            _refuse(archive, member.info.name, "would be written outside the target")
        try:
            written += _write_member(tar, member, path, limit - written, archive)
        except OSError as exc:
            if exc.errno not in _NAME_ERRNOS:
                raise  # the disk, not the archive (e.g. no space left): the caller's problem
            _refuse(archive, member.info.name, f"cannot be created: {exc.strerror}")


def _write_member(
    tar: tarfile.TarFile, member: _Member, path: Path, budget: int, archive: Path
) -> int:
    """Create one member at ``path``; returns the bytes written."""
    if member.is_dir:
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
        return 0
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    content = tar.extractfile(member.info)
    if content is None:  # cannot happen for a regular file; refuse rather than guess
        _refuse(archive, member.info.name, "has no readable content")
    mode = 0o755 if member.info.mode & 0o111 else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with content, os.fdopen(os.open(path, flags, mode), "wb") as out:
        size = _copy(content, out, budget, archive, member.info.name)
    if size != member.info.size:
        raise InvalidInput(f"{archive}: {printable(member.info.name)}: damaged (truncated)")
    return size


def _copy(source: IO[bytes], out: IO[bytes], budget: int, archive: Path, name: str) -> int:
    copied = 0
    while chunk := source.read(_CHUNK):
        copied += len(chunk)
        if copied > budget:
            _refuse(archive, name, "holds more bytes than the size limit allows")
        out.write(chunk)
    return copied


def _refuse(archive: Path, member: str, reason: str) -> NoReturn:
    raise UnsafeInput(
        f"{archive}: member '{printable(member)}': {reason}",
        hint="nothing was unpacked; package bundles with: mlctl model package DIR",
    )


class _BoundedReader:
    """The decompressed stream, refusing to go past ``limit`` bytes or read huge records.

    tarfile reads metadata records (pax headers, GNU long names) whole into memory, and
    skips member data by seeking, which for gzip means decompressing. Capping both here
    bounds the memory and CPU a hostile archive can cost, whatever its headers claim.
    """

    def __init__(self, stream: gzip.GzipFile, limit: int, archive: Path) -> None:
        self._stream = stream
        self._limit = limit
        self._archive = archive

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > max(_CHUNK, _MAX_METADATA_READ):
            raise UnsafeInput(f"{self._archive}: a header record is too large (a memory bomb?)")
        if self._stream.tell() + size > self._limit:
            self._too_big()
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        # Check before seeking: a forward seek in gzip decompresses everything skipped.
        if whence == os.SEEK_CUR:
            offset += self._stream.tell()
        elif whence != os.SEEK_SET:
            raise InvalidInput(f"{self._archive}: unsupported seek in the archive stream")
        if offset > self._limit:
            self._too_big()
        return self._stream.seek(offset)

    def tell(self) -> int:
        return self._stream.tell()

    def _too_big(self) -> NoReturn:
        raise UnsafeInput(
            f"{self._archive}: decompresses to more than {self._limit} bytes (a gzip bomb?)",
            hint="nothing was unpacked",
        )
