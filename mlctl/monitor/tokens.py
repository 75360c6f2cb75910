"""Where the monitor's Nomad token comes from, and how it is renewed.

The follower asks :meth:`TokenSource.current` whenever it (re)connects, and calls
:meth:`TokenSource.refresh` when Nomad says the token expired, was deleted, or closed
the subscription. A static token (``NOMAD_TOKEN``) cannot be renewed: refresh returns
it unchanged and the follower keeps retrying with backoff, so an operator can fix it.
An AppRole source logs in to Vault and mints a fresh Nomad token from the
``nomad/creds/mlctl-monitor`` role; that needs both Vault and Nomad settings and is
built by the composition root (the CLI), never here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol


class TokenSource(Protocol):
    def current(self) -> str | None: ...

    def refresh(self) -> str | None: ...

    @property
    def renewable(self) -> bool: ...


class StaticToken:
    """A fixed token (or none, when Nomad's ACLs are off)."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    def current(self) -> str | None:
        return self._token

    def refresh(self) -> str | None:
        return self._token

    @property
    def renewable(self) -> bool:
        return False


class MintedToken:
    """A token from ``mint()`` (e.g. an AppRole login plus ``nomad/creds``), minted on
    first use (``at_once``: now) and again on every refresh; thread-safe."""

    def __init__(
        self, mint: Callable[[], str | None], *, renewable: bool = True, at_once: bool = False
    ) -> None:
        self._mint = mint
        self._renewable = renewable
        self._token: str | None = None
        self._minted = False  # None is a valid answer (ACLs off): minted once, kept
        self._lock = threading.Lock()
        if at_once:
            self.refresh()

    def current(self) -> str | None:
        with self._lock:
            if not self._minted:
                self._token, self._minted = self._mint(), True
            return self._token

    def refresh(self) -> str | None:
        with self._lock:
            self._token, self._minted = self._mint(), True
            return self._token

    @property
    def renewable(self) -> bool:
        return self._renewable


class ResolvedToken(MintedToken):
    """A token ``resolve()`` finds (``NOMAD_TOKEN``, else a cached ``mlctl login``, renewed
    on the way when due), resolved at once — so a bad login fails before anything
    starts — and again on every refresh; thread-safe. ``None``: Nomad's ACLs are off."""

    def __init__(self, resolve: Callable[[], str | None], renewable: bool) -> None:
        super().__init__(resolve, renewable=renewable, at_once=True)
