"""The file:// artifact store and building stores from settings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlctl import redact
from mlctl.artifacts import object_key, store_from_settings
from mlctl.artifacts.file_store import FileStore
from mlctl.artifacts.http_store import HttpStore
from mlctl.errors import ConfigError, InvalidInput, NotFound
from mlctl.settings import Settings


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(b"bundle bytes " * 50_000)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def share(tmp_path: Path) -> Path:
    root = tmp_path / "share"
    root.mkdir()
    return root


def test_upload_copies_atomically_and_skips_the_second_time(
    share: Path, bundle: tuple[Path, str]
) -> None:
    path, sha = bundle
    store = store_from_settings(Settings(artifact_store=share.as_uri()))
    assert isinstance(store, FileStore)
    seen: list[int] = []
    ref = store.upload(
        path, name="iris", sha256=sha, progress=lambda done, _total: seen.append(done)
    )
    target = share / object_key("iris", sha)
    assert ref.uploaded and ref.url == target.as_uri() and ref.size == path.stat().st_size
    assert target.read_bytes() == path.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o644
    assert seen[-1] == ref.size and seen == sorted(seen)
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp files left

    mtime = target.stat().st_mtime_ns
    again = store.upload(path, name="iris", sha256=sha)
    assert not again.uploaded and target.stat().st_mtime_ns == mtime
    assert store.verify(name="iris", sha256=sha)


def test_failed_copy_leaves_nothing_behind(share: Path, bundle: tuple[Path, str]) -> None:
    path, sha = bundle

    def boom(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        FileStore(share).upload(path, name="iris", sha256=sha, progress=boom)
    assert list((share / "iris").iterdir()) == []


def test_missing_share_is_not_created(tmp_path: Path, bundle: tuple[Path, str]) -> None:
    path, sha = bundle
    with pytest.raises(NotFound, match="does not exist"):
        FileStore(tmp_path / "not-mounted").upload(path, name="iris", sha256=sha)
    assert not (tmp_path / "not-mounted").exists()


def test_read_url_setting_is_what_nomad_gets(share: Path, bundle: tuple[Path, str]) -> None:
    path, sha = bundle
    settings = Settings(
        artifact_store=share.as_uri(), artifact_read_url="https://files.example.com/models/"
    )
    ref = store_from_settings(settings).upload(path, name="iris", sha256=sha)
    assert ref.url == f"https://files.example.com/models/iris/{sha}.tar.gz"


@pytest.mark.parametrize(
    ("name", "sha"),
    [("../etc", "a" * 64), ("Iris", "a" * 64), ("iris", "A" * 64), ("iris", "abc")],
)
def test_object_keys_refuse_paths_and_bad_hashes(name: str, sha: str) -> None:
    with pytest.raises(InvalidInput):
        object_key(name, sha)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (Settings(), "no artifact store is configured"),
        (Settings(artifact_store="ftp://host/models"), "unsupported scheme 'ftp'"),
        (Settings(artifact_store="https://u:pw@host/models"), "carries credentials"),
        (
            Settings(artifact_store="https://host/m", artifact_read_url="https://u:pw@h/m"),
            "artifact_read_url: the URL carries credentials",
        ),
        (Settings(artifact_store="https://host/m", artifact_store_user="u"), "needs both"),
    ],
)
def test_bad_store_settings(settings: Settings, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as caught:
        store_from_settings(settings)
    assert "u:pw" not in caught.value.one_line()  # never echoes credentials


def test_http_store_registers_password_and_verifies_tls_with_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    settings = Settings(
        artifact_store="https://store.example.com/models",
        artifact_store_user="deployer",
        artifact_store_password="a-long-secret-password",
        artifact_store_cacert=str(ca),
    )
    store = store_from_settings(settings)
    assert isinstance(store, HttpStore)
    assert store._session.verify == str(ca)
    assert redact.scrub("pw a-long-secret-password") == "pw [redacted]"
    default = store_from_settings(Settings(artifact_store="https://store.example.com/models"))
    assert isinstance(default, HttpStore) and default._session.verify is True
