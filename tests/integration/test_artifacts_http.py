"""The HTTP artifact store against a real nginx with WebDAV and basic auth."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mlctl.artifacts import object_key, store_from_settings
from mlctl.artifacts.http_store import HttpStore
from mlctl.errors import AuthError, ExitStatus, InvalidInput, Unreachable
from mlctl.settings import Settings
from tests.integration.nginx_dav import PASSWORD, USER, Nginx, free_port, start_nginx


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    yield from start_nginx(tmp_path / "nginx")


@pytest.fixture
def nginx_without_full_put_path(tmp_path: Path) -> Iterator[Nginx]:
    yield from start_nginx(tmp_path / "nginx", create_full_put_path=False)


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "iris.tar.gz"
    path.write_bytes(os.urandom(1024 * 1024 + 123))  # several upload chunks
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def store_for(nginx: Nginx, password: str = PASSWORD) -> HttpStore:
    settings = Settings(
        artifact_store=nginx.url, artifact_store_user=USER, artifact_store_password=password
    )
    store = store_from_settings(settings)
    assert isinstance(store, HttpStore)
    return store


def test_upload_then_skip_when_already_there(nginx: Nginx, bundle: tuple[Path, str]) -> None:
    path, sha = bundle
    store = store_for(nginx)
    assert not store.exists(name="iris", sha256=sha)

    first = store.upload(path, name="iris", sha256=sha)
    assert first.uploaded is True
    assert first.url == f"{nginx.url}/iris/{sha}.tar.gz"
    assert first.size == path.stat().st_size
    stored = nginx.root / "www" / "models" / object_key("iris", sha)
    assert stored.read_bytes() == path.read_bytes()
    assert len(nginx.logged("PUT", at_least=1)) == 1

    second = store.upload(path, name="iris", sha256=sha)
    assert second.uploaded is False
    assert second.url == first.url
    # Both uploads sent a HEAD; once the second is logged, any PUT it sent would be too.
    nginx.logged("HEAD", at_least=3)
    assert len(nginx.requests("PUT")) == 1  # no second PUT reached the server
    assert store.verify(name="iris", sha256=sha)


def test_nomad_can_download_anonymously(nginx: Nginx, bundle: tuple[Path, str]) -> None:
    path, sha = bundle
    ref = store_for(nginx).upload(path, name="iris", sha256=sha)
    response = requests.get(ref.url, timeout=10)  # no credentials, like go-getter
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == sha


def test_progress_reports_increasing_byte_counts(nginx: Nginx, bundle: tuple[Path, str]) -> None:
    path, sha = bundle
    seen: list[tuple[int, int]] = []
    store_for(nginx).upload(
        path, name="iris", sha256=sha, progress=lambda d, t: seen.append((d, t))
    )
    size = path.stat().st_size
    done = [d for d, _ in seen]
    assert len(seen) >= 4
    assert done == sorted(done) and len(set(done)) == len(done)
    assert done[-1] == size
    assert {t for _, t in seen} == {size}


def test_wrong_password_is_an_auth_error_without_the_password(
    nginx: Nginx, bundle: tuple[Path, str]
) -> None:
    path, sha = bundle
    wrong = "definitely-not-the-password"
    with pytest.raises(AuthError) as caught:
        store_for(nginx, password=wrong).upload(path, name="iris", sha256=sha)
    assert caught.value.status == ExitStatus.AUTH
    assert "HTTP 401" in caught.value.message and nginx.url in caught.value.message
    assert wrong not in caught.value.one_line()
    assert not (nginx.root / "www" / "models" / object_key("iris", sha)).exists()


def test_mkcol_when_server_does_not_create_parents(
    nginx_without_full_put_path: Nginx, bundle: tuple[Path, str]
) -> None:
    path, sha = bundle
    ref = store_for(nginx_without_full_put_path).upload(path, name="iris", sha256=sha)
    assert ref.uploaded
    assert nginx_without_full_put_path.logged("MKCOL", at_least=1)
    stored = nginx_without_full_put_path.root / "www" / "models" / object_key("iris", sha)
    assert stored.read_bytes() == path.read_bytes()


def test_damaged_object_of_another_size_is_replaced(nginx: Nginx, bundle: tuple[Path, str]) -> None:
    path, sha = bundle
    damaged = nginx.root / "www" / "models" / object_key("iris", sha)
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"truncated")
    store = store_for(nginx)
    assert not store.verify(name="iris", sha256=sha)
    assert store.upload(path, name="iris", sha256=sha).uploaded
    assert store.verify(name="iris", sha256=sha)


def test_unreachable_store(bundle: tuple[Path, str]) -> None:
    path, sha = bundle
    settings = Settings(artifact_store=f"http://127.0.0.1:{free_port()}/models")
    with pytest.raises(Unreachable, match="is unreachable") as caught:
        store_from_settings(settings).upload(path, name="iris", sha256=sha)
    assert caught.value.status == ExitStatus.UNREACHABLE


def test_wrong_hash_is_refused_before_any_request(nginx: Nginx, bundle: tuple[Path, str]) -> None:
    path, _ = bundle
    with pytest.raises(InvalidInput, match="sha256 is"):
        store_for(nginx).upload(path, name="iris", sha256="0" * 64)
    assert nginx.requests("HEAD") == [] and nginx.requests("PUT") == []


def test_keyed_objects_round_trip_through_nested_collections(
    nginx_without_full_put_path: Nginx, tmp_path: Path
) -> None:
    """Training results live at train/<run>/<candidate>/…: parents are created first."""
    store = store_for(nginx_without_full_put_path)
    source = tmp_path / "result.json"
    source.write_text('{"status": "ok"}')
    key = "train/20261130-101500-ab12/lgbm/result.json"
    assert store.get_object(key) is None
    store.put_object(key, source)
    assert store.get_object(key) == b'{"status": "ok"}'
    assert store.object_url(key) == f"{nginx_without_full_put_path.url}/{key}"
    with pytest.raises(InvalidInput, match="not a safe relative path"):
        store.put_object("../escape.json", source)
