"""An HTTP store that accepts WebDAV ``PUT``: nginx's dav module, Apache mod_dav, and the like.

Existence is a ``HEAD``: the object's name is its sha256, so an object that exists with
the expected size *is* the same content (nginx sends no content hash to compare; use
:meth:`HttpStore.verify` to download and hash when in doubt). Uploads stream the file
with a Content-Length and report progress. Intermediate collections are created by the
server (nginx ``create_full_put_path on``) or by a ``MKCOL`` before the first ``PUT``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

import requests

from mlctl.artifacts.base import (
    CHUNK_SIZE,
    MAX_OBJECT_BYTES,
    ArtifactRef,
    Progress,
    ProgressReader,
    check_key,
    object_key,
    upload_once,
)
from mlctl.endpoint import speaks_plain_http
from mlctl.errors import AuthError, ConfigError, NotFound, PermissionDenied, Unreachable

TIMEOUT = (10.0, 300.0)
"""Seconds to connect, and to wait for the server between bytes."""


class HttpStore:
    """Objects under ``base_url``; basic auth from settings; TLS verified (custom CA)."""

    def __init__(
        self,
        base_url: str,
        *,
        read_base: str | None = None,
        auth: tuple[str, str] | None = None,
        ca_bundle: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._read_base = (read_base or base_url).rstrip("/")
        self._session = session or requests.Session()
        self._session.auth = auth
        self._session.verify = ca_bundle or True

    def _url(self, key: str) -> str:
        return f"{self.base_url}/{quote(key)}"

    def read_url(self, *, name: str, sha256: str) -> str:
        return f"{self._read_base}/{quote(object_key(name, sha256))}"

    def exists(self, *, name: str, sha256: str, size: int | None = None) -> bool:
        url = self._url(object_key(name, sha256))
        response = self._send("HEAD", url)
        if response.status_code == 404:
            return False
        _raise_for_status(response, "HEAD", url)
        length = response.headers.get("Content-Length")
        # A size mismatch means a damaged object: report absent so upload replaces it.
        return size is None or length is None or int(length) == size

    def upload(
        self, path: Path, *, name: str, sha256: str, progress: Progress | None = None
    ) -> ArtifactRef:
        def write(size: int) -> None:
            self._mkcol(f"{self.base_url}/{quote(name)}/")
            url = self._url(object_key(name, sha256))
            _raise_for_status(self._put(url, path, size, progress), "PUT", url)

        return upload_once(self, path, name=name, sha256=sha256, write=write)

    def verify(self, *, name: str, sha256: str) -> bool:
        url = self._url(object_key(name, sha256))
        response = self._send("GET", url, stream=True)
        if response.status_code == 404:
            return False
        _raise_for_status(response, "GET", url)
        digest = hashlib.sha256()
        for chunk in response.iter_content(CHUNK_SIZE):
            digest.update(chunk)
        return digest.hexdigest() == sha256

    def object_url(self, key: str) -> str:
        return f"{self._read_base}/{quote(check_key(key))}"

    def put_object(self, key: str, path: Path) -> None:
        key = check_key(key)
        parts = key.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            self._mkcol(f"{self.base_url}/{quote('/'.join(parts[:depth]))}/")
        url = self._url(key)
        _raise_for_status(self._put(url, path, path.stat().st_size, None), "PUT", url)

    def get_object(self, key: str) -> bytes | None:
        url = self._url(check_key(key))
        response = self._send("GET", url, stream=True)
        if response.status_code == 404:
            return None
        _raise_for_status(response, "GET", url)
        body = bytearray()
        for chunk in response.iter_content(CHUNK_SIZE):
            body += chunk
            if len(body) > MAX_OBJECT_BYTES:
                raise ConfigError(f"artifact store: {url}: larger than {MAX_OBJECT_BYTES} bytes")
        return bytes(body)

    def _put(self, url: str, path: Path, size: int, progress: Progress | None) -> requests.Response:
        reader = ProgressReader(path, size, progress)
        try:
            return self._send("PUT", url, data=reader, headers={"Content-Type": "application/gzip"})
        finally:
            reader.close()

    def _mkcol(self, url: str) -> None:
        """Create the model's collection before the first PUT into it.

        Servers disagree on a PUT below a missing collection (RFC 4918 says 409, nginx
        without ``create_full_put_path`` answers 500), so create it up front instead.
        405 means it already exists, or MKCOL is off and the server makes parents itself.
        """
        response = self._send("MKCOL", url)
        if response.status_code not in {201, 405}:
            _raise_for_status(response, "MKCOL", url)

    def _send(self, method: str, url: str, **kwargs: object) -> requests.Response:
        try:
            return self._session.request(method, url, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]
        except requests.exceptions.SSLError as exc:
            if speaks_plain_http(exc):
                raise Unreachable(
                    f"artifact store {self.base_url}: TLS handshake failed: it answers in "
                    "plain HTTP",
                    hint="use an http:// MLCTL_ARTIFACT_STORE, or enable TLS on the server",
                ) from exc
            raise Unreachable(
                f"artifact store {self.base_url}: TLS verification failed: {_reason(exc)}",
                hint="point MLCTL_ARTIFACT_STORE_CACERT at the CA bundle that signed it",
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise Unreachable(
                f"artifact store {self.base_url} is unreachable: {_reason(exc)}",
                hint="check MLCTL_ARTIFACT_STORE and that the server is up",
            ) from exc


def _reason(exc: BaseException) -> str:
    """The innermost cause, which names what actually went wrong (refused, DNS, cert)."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _raise_for_status(response: requests.Response, method: str, url: str) -> None:
    """Map the store's answer to an error naming method and URL (never credentials)."""
    status = response.status_code
    if status < 300:
        return
    where = f"artifact store: {method} {url}: HTTP {status}"
    if status == 401:
        raise AuthError(
            f"{where}: the store refused the credentials",
            hint="check MLCTL_ARTIFACT_STORE_USER and MLCTL_ARTIFACT_STORE_PASSWORD",
        )
    if status == 403:
        raise PermissionDenied(f"{where}: not allowed", hint="ask for write access to the store")
    if status == 404:
        raise NotFound(f"{where}: not found", hint="check the path of MLCTL_ARTIFACT_STORE")
    if status == 405:
        raise ConfigError(
            f"{where}: the server does not accept {method}",
            hint="enable WebDAV (nginx: dav_methods PUT MKCOL) at that location",
        )
    if status == 413:
        raise ConfigError(
            f"{where}: the bundle is larger than the server accepts",
            hint="raise nginx client_max_body_size for the store's location",
        )
    raise Unreachable(f"{where}: {response.reason}")
