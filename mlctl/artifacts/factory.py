"""Build the configured artifact store from settings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from mlctl import redact
from mlctl.artifacts.base import ArtifactStore
from mlctl.artifacts.file_store import FileStore
from mlctl.artifacts.http_store import HttpStore
from mlctl.errors import ConfigError
from mlctl.settings import Settings

_HINT = "set MLCTL_ARTIFACT_STORE to https://host/models or file:///shared/models"


def store_from_settings(settings: Settings) -> ArtifactStore:
    """An :class:`HttpStore` for ``http(s)://`` URLs, a :class:`FileStore` for ``file://``."""
    url = settings.artifact_store
    if not url:
        raise ConfigError("no artifact store is configured", hint=_HINT)
    read_url = settings.artifact_read_url or url
    for name, value in (("artifact_store", url), ("artifact_read_url", read_url)):
        if "@" in urlsplit(value).netloc:
            raise ConfigError(
                f"{name}: the URL carries credentials; they would end up in job specs and logs",
                hint="give the user and password in MLCTL_ARTIFACT_STORE_USER and "
                "MLCTL_ARTIFACT_STORE_PASSWORD instead",
            )
    scheme = urlsplit(url).scheme
    if scheme in {"http", "https"}:
        return _http_store(settings, url, read_url)
    if scheme == "file":
        path = Path(unquote(urlsplit(url).path))
        if not path.is_absolute():
            raise ConfigError(f"artifact_store: {url!r} is not an absolute file:/// URL")
        return FileStore(path, read_base=read_url)
    raise ConfigError(f"artifact_store: {url!r}: unsupported scheme {scheme!r}", hint=_HINT)


def _http_store(settings: Settings, url: str, read_url: str) -> HttpStore:
    user, password = settings.artifact_store_user, settings.artifact_store_password
    if bool(user) != bool(password):
        raise ConfigError(
            "artifact store basic auth needs both MLCTL_ARTIFACT_STORE_USER and "
            "MLCTL_ARTIFACT_STORE_PASSWORD"
        )
    redact.register(password)
    return HttpStore(
        url,
        read_base=read_url,
        auth=(user, password) if user and password else None,
        ca_bundle=settings.artifact_store_cacert,
    )
