"""Fixtures and builders for the bundle tests: example copies and hand-made tar archives."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"


@pytest.fixture
def iris_bundle(tmp_path: Path) -> Path:
    """A private copy of examples/iris that a test may break."""
    return copy_example("iris", tmp_path / "iris")


@pytest.fixture
def onnx_bundle(tmp_path: Path) -> Path:
    """A private copy of examples/iris-onnx that a test may break."""
    return copy_example("iris-onnx", tmp_path / "iris-onnx")


def copy_example(name: str, target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(EXAMPLES / name, target, ignore=ignore)
    return target


@dataclass
class Member:
    """One hand-made tar member: any name, type and content, valid or hostile."""

    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    mode: int = 0o644
    size: int | None = None  # declared size; None means len(data)
    pax: dict[str, str] | None = None


def write_tar(path: Path, members: Iterable[Member]) -> Path:
    """Write a .tar.gz holding exactly ``members``, bypassing every safety check."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = member.type
            info.linkname = member.linkname
            info.mode = member.mode
            info.size = len(member.data) if member.size is None else member.size
            if member.pax:
                info.pax_headers = member.pax
            content = io.BytesIO(member.data) if info.type == tarfile.REGTYPE else None
            tar.addfile(info, content)
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def tree_listing(root: Path) -> list[str]:
    """Every path under ``root`` (relative, sorted), to prove nothing else appeared."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
