"""The login cache: Vault and Nomad tokens with their expiry, kept 0600 in the state dir.

``mlctl login`` writes it; :mod:`mlctl.session` reads it to pick the token each command
sends (``NOMAD_TOKEN`` always wins) and renews a login in the last third of its lifetime
on the way, so a working day needs one login. This module only keeps the file: it
imports neither Nomad nor Vault.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mlctl import redact
from mlctl.errors import ConfigError
from mlctl.settings import Settings

CACHE_NAME = "credentials.json"


@dataclass(frozen=True)
class CachedLogin:
    """What a login leaves behind. Secrets here are never printed (see mlctl.redact)."""

    username: str
    vault_token: str
    vault_expires_at: float
    nomad_token: str | None = None
    nomad_accessor: str | None = None
    nomad_expires_at: float | None = None
    nomad_lease_id: str | None = None
    role: str | None = None
    namespaces: tuple[str, ...] = ()
    renewed_at: float = 0.0
    """When the tokens were issued or last renewed (the start of the renewal window)."""
    nomad_auth: str = "secrets-engine"
    """How the Nomad token was obtained: ``secrets-engine`` (a Vault lease, renewed in
    place) or ``jwt`` (an identity token exchanged at Nomad's ``/v1/acl/login``, replaced
    by a fresh exchange on renewal)."""

    def vault_expired(self, now: float | None = None) -> bool:
        return (now or time.time()) >= self.vault_expires_at

    def nomad_expired(self, now: float | None = None) -> bool:
        return self.nomad_expires_at is not None and (now or time.time()) >= self.nomad_expires_at

    def due_for_renewal(self, now: float | None = None) -> bool:
        """True in the last third of either token's lifetime (and not before it started)."""
        now = now or time.time()
        ends = [self.vault_expires_at]
        if self.nomad_expires_at is not None:
            ends.append(self.nomad_expires_at)
        return any(now >= end - (end - self.renewed_at) / 3 for end in ends)


def cache_path(settings: Settings) -> Path:
    return Path(settings.state_dir) / CACHE_NAME


def write_login(settings: Settings, login: CachedLogin) -> Path:
    """Write the cache atomically with mode 0600 in a 0700 directory."""
    path = cache_path(settings)
    _write_private(path, asdict(login))
    return path


def _write_private(path: Path, data: dict[str, object]) -> None:
    """Write JSON atomically, mode 0600, in a 0700 directory."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cred-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_login(settings: Settings) -> CachedLogin | None:
    """The cached login, or None when nobody is logged in."""
    path = cache_path(settings)
    if not path.exists():
        return None
    if path.stat().st_mode & 0o077:
        raise ConfigError(
            f"{path}: token cache is readable by others",
            hint=f"run: chmod 600 {path} (or mlctl logout && mlctl login)",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["namespaces"] = tuple(data.get("namespaces") or ())
        login = CachedLogin(**data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: token cache is damaged", hint="run: mlctl login") from exc
    redact.register(login.vault_token, login.nomad_token)
    return login


# ---------------------------------------------------------------- model-call tokens (issue 15)

MODEL_TOKEN_NAME = "model-token.json"  # noqa: S105 - a file name, not a secret


@dataclass(frozen=True)
class CachedModelToken:
    """The last identity token Vault signed for calling models, reused until near expiry."""

    caller: str  #: ``user:<name>``: a token of another login is never reused
    token: str
    expires_at: float

    def usable(self, caller: str, margin: float, now: float | None = None) -> bool:
        return self.caller == caller and (now or time.time()) < self.expires_at - margin


def model_token_path(settings: Settings) -> Path:
    return Path(settings.state_dir) / MODEL_TOKEN_NAME


def write_model_token(settings: Settings, cached: CachedModelToken) -> None:
    _write_private(model_token_path(settings), asdict(cached))


def read_model_token(settings: Settings) -> CachedModelToken | None:
    """The cached model token; None when absent, damaged or readable by others."""
    path = model_token_path(settings)
    try:
        if path.stat().st_mode & 0o077:
            return None  # never trust (or send) a token others could have written
        cached = CachedModelToken(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    redact.register(cached.token)
    return cached


def forget_model_token(settings: Settings) -> None:
    model_token_path(settings).unlink(missing_ok=True)


def forget_login(settings: Settings) -> None:
    cache_path(settings).unlink(missing_ok=True)


def read_token_file(path: Path) -> str:
    """A token kept in a file of its own (``mlctl local``'s management token): 0600 only."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(
            f"Nomad token file {path} does not exist",
            hint="start the local runtime with mlctl local up, or fix nomad_token_file",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Nomad token file {path} cannot be read: {exc.strerror}") from exc
    if mode & 0o077:
        raise ConfigError(
            f"{path}: token file is readable by others", hint=f"run: chmod 600 {path}"
        )
    if not text:
        raise ConfigError(f"Nomad token file {path} is empty")
    redact.register(text)
    return text
