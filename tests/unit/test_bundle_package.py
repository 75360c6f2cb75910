"""package_bundle writes the same bytes for the same tree, atomically, and only valid bundles."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import tarfile
from pathlib import Path

import pytest

from mlctl.bundle import package as package_module
from mlctl.bundle.config import BundleInvalid
from mlctl.bundle.package import package_bundle


def _example_files(bundle: Path) -> list[str]:
    """The files the copied example ships with, before a test adds its own."""
    return sorted(p.name for p in bundle.iterdir() if p.is_file())


def _members(archive: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(archive, "r:gz") as tar:
        return tar.getmembers()


def test_same_tree_gives_the_same_bytes_twice(iris_bundle: Path, tmp_path: Path) -> None:
    first = package_bundle(iris_bundle, tmp_path / "one")
    second = package_bundle(iris_bundle, tmp_path / "two")
    assert first.path.name == "iris-1.0.0.tar.gz"
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    assert first.size == second.size == first.path.stat().st_size


def test_mtimes_modes_and_location_do_not_change_the_bytes(
    iris_bundle: Path, tmp_path: Path
) -> None:
    reference = package_bundle(iris_bundle, tmp_path / "ref")
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(iris_bundle, moved)
    for path in moved.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
        path.chmod(0o600)
    again = package_bundle(moved, tmp_path / "again")
    assert again.sha256 == reference.sha256
    assert again.path.read_bytes() == reference.path.read_bytes()


def test_content_change_changes_the_hash(iris_bundle: Path, tmp_path: Path) -> None:
    before = package_bundle(iris_bundle, tmp_path / "a").sha256
    with (iris_bundle / "train.py").open("a") as stream:
        stream.write("# edited\n")
    assert package_bundle(iris_bundle, tmp_path / "b").sha256 != before


def test_entries_are_normalised(iris_bundle: Path, tmp_path: Path) -> None:
    (iris_bundle / "tools").mkdir()
    script = iris_bundle / "tools" / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o4750)
    archive = package_bundle(iris_bundle, tmp_path / "dist").path
    members = _members(archive)
    names = [m.name for m in members]
    assert names == sorted([*_example_files(iris_bundle), "tools", "tools/run.sh"])
    for member in members:
        assert (member.mtime, member.uid, member.gid) == (0, 0, 0)
        assert (member.uname, member.gname) == ("", "")
    modes = {m.name: m.mode for m in members}
    assert modes["tools"] == 0o755
    assert modes["tools/run.sh"] == 0o755
    assert modes["mlctl.yaml"] == 0o644


def test_gzip_header_has_no_name_and_a_fixed_time(iris_bundle: Path, tmp_path: Path) -> None:
    header = package_bundle(iris_bundle, tmp_path).path.read_bytes()[:10]
    magic, method, flags, mtime = struct.unpack("<2sBBI", header[:8])
    assert (magic, method) == (b"\x1f\x8b", 8)
    assert flags & 0x08 == 0  # FNAME: no original file name stored
    assert mtime == 0


def test_clutter_and_mlctlignore_patterns_are_left_out(iris_bundle: Path, tmp_path: Path) -> None:
    example = _example_files(iris_bundle)
    (iris_bundle / "__pycache__").mkdir()
    (iris_bundle / "__pycache__" / "contract.cpython-311.pyc").write_bytes(b"x")
    (iris_bundle / "stray.pyc").write_bytes(b"x")
    (iris_bundle / ".DS_Store").write_bytes(b"x")
    (iris_bundle / ".git").mkdir()
    (iris_bundle / ".git" / "HEAD").write_text("ref")
    (iris_bundle / "notes").mkdir()
    (iris_bundle / "notes" / "draft.log").write_text("x")
    (iris_bundle / "notes" / "keep.md").write_text("x")
    (iris_bundle / "data").mkdir()
    (iris_bundle / "data" / "big.csv").write_text("x")
    (iris_bundle / ".mlctlignore").write_text("# comment\n\n*.log\n/data/\n")
    names = [m.name for m in _members(package_bundle(iris_bundle, tmp_path).path)]
    assert names == sorted([*example, ".mlctlignore", "notes", "notes/keep.md"])


def test_symlink_inside_is_stored_as_a_file(iris_bundle: Path, tmp_path: Path) -> None:
    (iris_bundle / "alias.py").symlink_to("contract.py")
    archive = package_bundle(iris_bundle, tmp_path).path
    member = next(m for m in _members(archive) if m.name == "alias.py")
    assert member.isreg()
    with tarfile.open(archive, "r:gz") as tar:
        content = tar.extractfile(member)
        assert content is not None
        assert content.read() == (iris_bundle / "contract.py").read_bytes()


def test_symlink_leaving_the_bundle_is_refused_and_nothing_written(
    iris_bundle: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship")
    (iris_bundle / "leak.txt").symlink_to(secret)
    dest = tmp_path / "dist"
    with pytest.raises(BundleInvalid) as caught:
        package_bundle(iris_bundle, dest)
    assert caught.value.problems[0].startswith("leak.txt: symlink: points outside the bundle")
    assert not dest.exists() or list(dest.iterdir()) == []


def test_invalid_bundle_writes_nothing(iris_bundle: Path, tmp_path: Path) -> None:
    (iris_bundle / "model.skops").unlink()
    dest = tmp_path / "dist"
    dest.mkdir()
    with pytest.raises(BundleInvalid, match=r"model\.file: model\.skops does not exist"):
        package_bundle(iris_bundle, dest)
    assert list(dest.iterdir()) == []


def test_failure_while_writing_leaves_no_partial_file(
    iris_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = package_module._tarinfo
    calls = []

    def failing(*args: object) -> tarfile.TarInfo:
        calls.append(args)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(package_module, "_tarinfo", failing)
    dest = tmp_path / "dist"
    with pytest.raises(OSError, match="disk full"):
        package_bundle(iris_bundle, dest)
    assert list(dest.iterdir()) == []


def test_packaging_into_the_bundle_skips_the_previous_archive(
    iris_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(iris_bundle)
    first = package_bundle(iris_bundle)
    assert first.path == iris_bundle.resolve() / "iris-1.0.0.tar.gz"
    second = package_bundle(iris_bundle)
    assert second.sha256 == first.sha256
    assert "iris-1.0.0.tar.gz" not in [m.name for m in _members(second.path)]


def test_archive_is_a_plain_gzip_stream(iris_bundle: Path, tmp_path: Path) -> None:
    # Any gzip reader (Nomad's go-getter, `tar xzf`) can read it.
    data = gzip.decompress(package_bundle(iris_bundle, tmp_path).path.read_bytes())
    assert len(data) % tarfile.RECORDSIZE == 0
