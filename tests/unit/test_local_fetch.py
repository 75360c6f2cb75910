"""Artifacts of real tasks: file:// and http://, checksums, safe unpacking, destinations."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest

from mlctl.local.engine.fetch import ArtifactError, fetch


def tarball(path: Path, files: dict[str, bytes], link: bool = False) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo("evil")
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifact(source: str, **options: str) -> dict:
    return {"GetterSource": source, "RelativeDest": "local/bundle", "GetterOptions": options}


def test_a_checked_tarball_is_unpacked_into_the_destination(tmp_path):
    archive = tarball(tmp_path / "b.tar.gz", {"mlctl.yaml": b"name: x\n", "sub/m.bin": b"\x00"})
    task = tmp_path / "task"
    task.mkdir()
    fetch(artifact(archive.as_uri(), checksum=f"sha256:{sha256(archive)}"), task)
    assert (task / "local/bundle/mlctl.yaml").read_bytes() == b"name: x\n"
    assert (task / "local/bundle/sub/m.bin").exists()
    assert not list(task.glob(".download-*"))  # the download itself is cleaned up


def test_a_wrong_checksum_stops_before_anything_is_unpacked(tmp_path):
    archive = tarball(tmp_path / "b.tar.gz", {"a": b"1"})
    task = tmp_path / "task"
    task.mkdir()
    with pytest.raises(ArtifactError, match="Checksums did not match"):
        fetch(artifact(archive.as_uri(), checksum="sha256:" + "0" * 64), task)
    assert not (task / "local/bundle").exists()


def test_an_unsafe_archive_is_refused(tmp_path):
    archive = tarball(tmp_path / "b.tar.gz", {"a": b"1"}, link=True)
    task = tmp_path / "task"
    task.mkdir()
    with pytest.raises(ArtifactError, match="evil"):
        fetch(artifact(archive.as_uri()), task)


@pytest.mark.parametrize(
    ("dest", "source_name", "fragment"),
    [
        ("../../etc", "b.tar.gz", "escapes the task directory"),
        ("local/", "b.zip", "only .tar.gz archives"),
    ],
)
def test_refused_destinations_and_formats(tmp_path, dest, source_name, fragment):
    source = tmp_path / source_name
    source.write_bytes(b"PK")
    task = tmp_path / "task"
    task.mkdir()
    with pytest.raises(ArtifactError, match=fragment):
        fetch({"GetterSource": source.as_uri(), "RelativeDest": dest}, task)


def test_missing_files_and_unknown_schemes_say_so(tmp_path):
    with pytest.raises(ArtifactError, match="no such file"):
        fetch(artifact((tmp_path / "nope.tar.gz").as_uri()), tmp_path)
    with pytest.raises(ArtifactError, match='scheme "s3"'):
        fetch(artifact("s3://bucket/x.tar.gz"), tmp_path)


def test_plain_files_keep_their_name_and_http_works(tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    (served / "config.json").write_text('{"a": 1}')

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        task = tmp_path / "task"
        task.mkdir()
        digest = hashlib.md5(b'{"a": 1}', usedforsecurity=False).hexdigest()
        fetch(
            {
                "GetterSource": f"http://127.0.0.1:{port}/config.json",
                "RelativeDest": "local/conf",
                "GetterOptions": {"checksum": f"md5:{digest}"},
            },
            task,
        )
        assert (task / "local/conf/config.json").read_text() == '{"a": 1}'
        with pytest.raises(ArtifactError, match="bad response code: 404"):
            fetch({"GetterSource": f"http://127.0.0.1:{port}/missing.txt"}, task)
    finally:
        server.shutdown()
        server.server_close()
