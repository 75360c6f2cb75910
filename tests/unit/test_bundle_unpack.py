"""safe_unpack refuses every hostile archive, writes nothing outside, leaves no partial tree."""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlctl.bundle.names import printable
from mlctl.bundle.package import package_bundle
from mlctl.bundle.unpack import safe_unpack
from mlctl.errors import Conflict, ExitStatus, InvalidInput, NotFound, UnsafeInput
from tests.bundle_fixtures import Member, tree_listing, write_tar

GOOD = Member("mlctl.yaml", b"name: x\n")


def _assert_refused(
    sandbox: Path, archive: Path, member: str, reason: str, **limits: int
) -> UnsafeInput:
    """Unpacking is refused naming ``member``, and the sandbox holds only the archive."""
    target = sandbox / "out" / "bundle"
    before = tree_listing(sandbox)
    with pytest.raises(UnsafeInput) as caught:
        safe_unpack(archive, target, **limits)
    error = caught.value
    assert error.status is ExitStatus.UNSAFE
    assert f"member '{printable(member)}'" in error.message, error.message
    assert reason in error.message
    assert "nothing was unpacked" in error.one_line()
    assert not target.exists()
    assert tree_listing(sandbox) == before
    return error


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A directory holding only what a test puts there (tmp_path also holds a fake HOME)."""
    path = tmp_path / "sandbox"
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (Member("/etc/evil", b"x"), "absolute path"),
        (Member("../evil", b"x"), "'..'"),
        (Member("sub/../../evil", b"x"), "'..'"),
        (Member("sub/..", type=tarfile.DIRTYPE), "'..'"),
        (Member("a\\..\\evil", b"x"), "backslash"),
        (Member("evil\nname", b"x"), "control character"),
        (Member("link", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "symbolic link"),
        (Member("link", type=tarfile.SYMTYPE, linkname="mlctl.yaml"), "symbolic link"),
        (Member("link", type=tarfile.SYMTYPE, linkname="../../evil"), "symbolic link"),
        (Member("hard", type=tarfile.LNKTYPE, linkname="mlctl.yaml"), "hard link"),
        (Member("hard", type=tarfile.LNKTYPE, linkname="/etc/shadow"), "hard link"),
        (Member("null", type=tarfile.CHRTYPE), "character device"),
        (Member("disk", type=tarfile.BLKTYPE), "block device"),
        (Member("pipe", type=tarfile.FIFOTYPE), "fifo"),
        (Member("mlctl.yaml", b"again"), "appears twice"),
        (Member("mlctl.yaml/inner", b"x"), "which is a file"),
    ],
    ids=lambda value: value.name if isinstance(value, Member) else None,
)
def test_hostile_members_are_refused(sandbox: Path, member: Member, reason: str) -> None:
    archive = write_tar(sandbox / "evil.tar.gz", [GOOD, Member("data/a.txt", b"ok"), member])
    _assert_refused(sandbox, archive, member.name, reason)
    assert not (sandbox.parent / "evil").exists()
    assert not Path("/etc/evil").exists()


def test_links_after_a_valid_prefix_never_write_the_prefix(sandbox: Path) -> None:
    # The good member comes first: it must not be written before the link is seen.
    archive = write_tar(
        sandbox / "a.tar.gz",
        [Member("big.bin", b"x" * 100_000), Member("l", type=tarfile.SYMTYPE, linkname="/")],
    )
    _assert_refused(sandbox, archive, "l", "symbolic link")


def test_too_many_members(sandbox: Path) -> None:
    members = [Member(f"f{i}", b"x") for i in range(5)]
    archive = write_tar(sandbox / "many.tar.gz", members)
    _assert_refused(sandbox, archive, "f3", "more than 3 members", max_members=3)


def test_declared_sizes_over_the_limit(sandbox: Path) -> None:
    archive = write_tar(sandbox / "big.tar.gz", [Member("a", b"x" * 600), Member("b", b"y" * 600)])
    _assert_refused(sandbox, archive, "b", "more than 1000 bytes", max_total_bytes=1000)


def test_gzip_bomb_is_refused_before_it_is_written(sandbox: Path) -> None:
    # 64 MiB of zeros compress to ~64 KiB; the limit is 1 MiB.
    archive = write_tar(sandbox / "bomb.tar.gz", [Member("zeros", bytes(64 * 1024 * 1024))])
    assert archive.stat().st_size < 1024 * 1024
    _assert_refused(sandbox, archive, "zeros", "more than", max_total_bytes=1024 * 1024)


def test_huge_metadata_record_is_refused(tmp_path: Path) -> None:
    # tarfile reads a pax header whole: a 2 MiB one is refused before it is read.
    archive = write_tar(tmp_path / "pax.tar.gz", [Member("a", b"x", pax={"comment": "c" * 2**21})])
    target = tmp_path / "out"
    with pytest.raises(UnsafeInput, match="header record is too large"):
        safe_unpack(archive, target)
    assert not target.exists()


def test_sparse_member_is_refused(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "s.tar.gz", [Member("sparse", b"", type=tarfile.GNUTYPE_SPARSE)])
    with pytest.raises(UnsafeInput):
        safe_unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_archive_leaves_no_partial_tree(sandbox: Path) -> None:
    good = write_tar(sandbox / "good.tar.gz", [GOOD, Member("model.bin", bytes(range(256)) * 400)])
    raw = gzip.decompress(good.read_bytes())
    cut = sandbox / "cut.tar.gz"
    cut.write_bytes(gzip.compress(raw[:3000]))
    target = sandbox / "out"
    with pytest.raises(InvalidInput, match="damaged"):
        safe_unpack(cut, target)
    assert not target.exists()
    assert sorted(p.name for p in sandbox.iterdir()) == ["cut.tar.gz", "good.tar.gz"]


def test_not_a_gzip_file(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar.gz"
    plain.write_bytes(b"just text, not an archive")
    with pytest.raises(InvalidInput, match="not a gzip-compressed tar"):
        safe_unpack(plain, tmp_path / "out")


def test_missing_archive(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        safe_unpack(tmp_path / "absent.tar.gz", tmp_path / "out")


def test_non_empty_target_is_not_touched(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "ok.tar.gz", [GOOD])
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(Conflict):
        safe_unpack(archive, target)
    assert tree_listing(target) == ["keep.txt"]


def test_empty_target_directory_is_filled(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "ok.tar.gz", [GOOD])
    target = tmp_path / "out"
    target.mkdir()
    assert safe_unpack(archive, target) == target
    assert (target / "mlctl.yaml").read_bytes() == GOOD.data


def test_dot_prefixed_names_and_modes(tmp_path: Path) -> None:
    # `tar -C dir -czf x .` style: a "." root entry and ./ prefixes; setuid bits dropped.
    archive = write_tar(
        tmp_path / "dot.tar.gz",
        [
            Member(".", type=tarfile.DIRTYPE, mode=0o777),
            Member("./run.sh", b"#!/bin/sh\n", mode=0o4777),
            Member("./sub", type=tarfile.DIRTYPE, mode=0o700),
            Member("./sub/data.txt", b"d", mode=0o600),
        ],
    )
    target = safe_unpack(archive, tmp_path / "out")
    assert tree_listing(target) == ["run.sh", "sub", "sub/data.txt"]
    assert (target / "run.sh").stat().st_mode & 0o7777 == 0o755
    assert (target / "sub" / "data.txt").stat().st_mode & 0o7777 == 0o644
    assert target.stat().st_mode & 0o777 == 0o755


def test_packaged_bundle_round_trips(iris_bundle: Path, tmp_path: Path) -> None:
    packaged = package_bundle(iris_bundle, tmp_path / "dist")
    target = safe_unpack(packaged.path, tmp_path / "unpacked")
    assert tree_listing(target) == tree_listing(iris_bundle)
    for name in tree_listing(iris_bundle):
        assert (target / name).read_bytes() == (iris_bundle / name).read_bytes()


_NAME_PARTS = st.sampled_from(["..", ".", "", "a", "b", "é", "\\", "\x00", "/", "~", "c:", "\n"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(st.lists(_NAME_PARTS, min_size=1, max_size=5).map("/".join), max_size=4))
def test_random_member_names_never_escape(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as temp:
        sandbox = Path(temp)
        target = sandbox / "box" / "out"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in names:
                info = tarfile.TarInfo(name)
                info.size = 1
                tar.addfile(info, io.BytesIO(b"x"))
        archive = sandbox / "random.tar.gz"
        archive.write_bytes(gzip.compress(buffer.getvalue()))
        try:
            safe_unpack(archive, target)
        except (UnsafeInput, InvalidInput, Conflict):
            assert not target.exists()
            assert tree_listing(sandbox) in (["random.tar.gz"], ["box", "random.tar.gz"])
            return
        for path in tree_listing(sandbox):
            assert path == "random.tar.gz" or path == "box" or path.startswith("box/out")


def test_failure_while_writing_removes_the_partial_tree(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlctl.bundle import unpack as unpack_module

    real_copy = unpack_module._copy
    copies: list[str] = []

    def failing_copy(*args: Any) -> int:
        copies.append(args[-1])
        if len(copies) == 2:
            raise OSError("disk full")
        return real_copy(*args)

    monkeypatch.setattr(unpack_module, "_copy", failing_copy)
    archive = write_tar(sandbox / "ok.tar.gz", [GOOD, Member("sub/model.bin", b"m" * 1000)])
    before = tree_listing(sandbox)
    with pytest.raises(OSError, match="disk full"):
        safe_unpack(archive, sandbox / "out" / "bundle")
    assert copies == ["mlctl.yaml", "sub/model.bin"]  # the first file had been written
    assert [p for p in tree_listing(sandbox) if p != "out"] == before
    assert list((sandbox / "out").iterdir()) == []


@pytest.mark.parametrize(
    "names",
    [
        ["a/b", "a"],  # the file comes after a member that made `a` a directory
        ["a", "a/b"],  # the file comes first; the later member would lie under it
        ["a/b/c", "a/b"],
    ],
)
def test_a_file_and_a_directory_of_the_same_name_are_refused_cleanly(
    sandbox: Path, names: list[str]
) -> None:
    archive = write_tar(sandbox / "clash.tar.gz", [Member(name, b"x") for name in names])
    with pytest.raises(UnsafeInput, match="member '"):
        safe_unpack(archive, sandbox / "out")
    assert not (sandbox / "out").exists()
    assert tree_listing(sandbox) == ["clash.tar.gz"]


def test_a_name_the_filesystem_refuses_is_a_refused_member(sandbox: Path) -> None:
    archive = write_tar(sandbox / "long.tar.gz", [Member("x" * 300, b"x")])  # > NAME_MAX
    with pytest.raises(UnsafeInput, match="cannot be created"):
        safe_unpack(archive, sandbox / "out")
    assert tree_listing(sandbox) == ["long.tar.gz"]
