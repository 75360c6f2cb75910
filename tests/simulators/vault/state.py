"""The simulated Vault's memory: a steerable clock, policies, tokens and leases.

Tokens and leases expire against :class:`Clock`, which tests move forward to make a
token expire without waiting. Revoking a token revokes the leases it created (as
Vault does), and revoking a lease runs its backend's revoke hook, e.g. deleting the
Nomad ACL token it stands for.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.simulators.vault.policy import ACL, Rule, parse_policy

SYSTEM_DEFAULT_TTL = 32 * 24 * 3600  # Vault's default 768h
SYSTEM_MAX_TTL = 32 * 24 * 3600

# A trimmed copy of the paths in Vault's built-in "default" policy that matter here.
DEFAULT_POLICY = """
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
path "sys/capabilities-self" {
  capabilities = ["update"]
}
path "sys/leases/lookup" {
  capabilities = ["update"]
}
path "sys/leases/renew" {
  capabilities = ["update"]
}
path "sys/renew" {
  capabilities = ["update"]
}
"""


class Clock:
    """Wall time plus an offset that tests advance."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class VaultFailure(Exception):
    """An error answer: HTTP status and Vault's ``errors`` list."""

    def __init__(self, status: int, *errors: str) -> None:
        super().__init__(", ".join(errors))
        self.status = status
        self.errors = list(errors)


def permission_denied() -> VaultFailure:
    """A missing, unknown or expired token (Vault's plain message)."""
    return VaultFailure(403, "permission denied")


def policy_denied() -> VaultFailure:
    """A live token whose policies do not grant the request (Vault wraps this one in a
    multierror, hence the different text)."""
    return VaultFailure(403, "1 error occurred:\n\t* permission denied\n\n")


def new_token_id() -> str:
    return "hvs." + secrets.token_urlsafe(24)


@dataclass
class Token:
    id: str
    accessor: str
    policies: list[str]
    path: str
    display_name: str
    issue_time: float
    ttl: int
    expire_time: float | None
    max_expire_time: float | None
    meta: dict[str, str] = field(default_factory=dict)
    renewable: bool = True
    parent: str | None = None
    entity_id: str = ""
    leases: set[str] = field(default_factory=set)
    children: set[str] = field(default_factory=set)

    @property
    def is_root(self) -> bool:
        return "root" in self.policies


@dataclass
class Lease:
    id: str
    issue_time: float
    expire_time: float
    max_expire_time: float
    ttl: int
    token_id: str
    revoke: Callable[[], None]
    renewable: bool = True
    last_renewal: float | None = None


@dataclass
class Core:
    """Everything the backends share; one lock serialises requests."""

    clock: Clock = field(default_factory=Clock)
    lock: threading.RLock = field(default_factory=threading.RLock)
    policies: dict[str, str] = field(default_factory=lambda: {"default": DEFAULT_POLICY})
    tokens: dict[str, Token] = field(default_factory=dict)
    accessors: dict[str, str] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    entities: dict[str, str] = field(default_factory=dict)  # alias ("mount:name") -> ID

    def entity_for(self, alias: str) -> str:
        """The entity of a login alias: created at its first login, the same ever after."""
        return self.entities.setdefault(alias, str(uuid.uuid4()))

    # -- policies -----------------------------------------------------------------------
    def rules_of(self, name: str) -> list[Rule]:
        text = self.policies.get(name)
        return parse_policy(text) if text is not None else []

    def acl_for(self, token: Token) -> ACL:
        return ACL.build([self.rules_of(p) for p in token.policies], root=token.is_root)

    # -- tokens -------------------------------------------------------------------------
    def issue_token(
        self,
        *,
        policies: list[str],
        path: str,
        display_name: str,
        ttl: int = 0,
        max_ttl: int = 0,
        meta: dict[str, str] | None = None,
        parent: Token | None = None,
        token_id: str | None = None,
        renewable: bool = True,
        entity_id: str = "",
    ) -> Token:
        now = self.clock.now()
        root = "root" in policies
        ttl = 0 if root and not ttl else (ttl or SYSTEM_DEFAULT_TTL)
        max_ttl = max_ttl or (0 if root else SYSTEM_MAX_TTL)
        ttl = min(ttl, max_ttl) if max_ttl else ttl
        token = Token(
            id=token_id or new_token_id(),
            accessor=secrets.token_urlsafe(18),
            policies=sorted(set(policies)),
            path=path,
            display_name=display_name,
            issue_time=now,
            ttl=ttl,
            expire_time=now + ttl if ttl else None,
            max_expire_time=now + max_ttl if max_ttl else None,
            meta=dict(meta or {}),
            renewable=renewable and bool(ttl),
            parent=parent.id if parent else None,
            entity_id=entity_id,
        )
        self.tokens[token.id] = token
        self.accessors[token.accessor] = token.id
        if parent:
            parent.children.add(token.id)
        return token

    def token_ttl_left(self, token: Token) -> int:
        if token.expire_time is None:
            return 0
        return max(0, round(token.expire_time - self.clock.now()))

    def lookup(self, token_id: str | None) -> Token:
        """The live token, or 403 exactly as Vault answers a bad or expired token."""
        self.expire_due()
        token = self.tokens.get(token_id or "")
        if token is None:
            raise permission_denied()
        return token

    def renew_token(self, token: Token, increment: int) -> None:
        if not token.renewable:
            raise VaultFailure(400, "lease is not renewable")
        now = self.clock.now()
        wanted = increment or token.ttl
        if token.max_expire_time is not None:
            wanted = min(wanted, int(token.max_expire_time - now))
        token.expire_time = now + wanted
        token.ttl = wanted

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token, its children and every lease it created."""
        token = self.tokens.pop(token_id, None)
        if token is None:
            return
        self.accessors.pop(token.accessor, None)
        for child in list(token.children):
            self.revoke_token(child)
        for lease_id in list(token.leases):
            self.revoke_lease(lease_id)

    # -- leases -------------------------------------------------------------------------
    def add_lease(
        self, path: str, token: Token, ttl: int, max_ttl: int, revoke: Callable[[], None]
    ) -> Lease:
        now = self.clock.now()
        ttl = ttl or SYSTEM_DEFAULT_TTL
        max_ttl = max_ttl or SYSTEM_MAX_TTL
        ttl = min(ttl, max_ttl)
        lease = Lease(
            id=f"{path}/{secrets.token_urlsafe(18)}",
            issue_time=now,
            expire_time=now + ttl,
            max_expire_time=now + max_ttl,
            ttl=ttl,
            token_id=token.id,
            revoke=revoke,
        )
        self.leases[lease.id] = lease
        token.leases.add(lease.id)
        return lease

    def renew_lease(self, lease_id: str, increment: int) -> Lease:
        self.expire_due()
        lease = self.leases.get(lease_id)
        if lease is None or not lease.renewable:
            raise VaultFailure(400, "lease not found or lease is not renewable")
        now = self.clock.now()
        wanted = min(increment or lease.ttl, int(lease.max_expire_time - now))
        lease.expire_time = now + wanted
        lease.last_renewal = now
        return lease

    def revoke_lease(self, lease_id: str) -> None:
        lease = self.leases.get(lease_id)
        if lease is None:
            return
        try:
            lease.revoke()
        except Exception as exc:
            raise VaultFailure(400, f"failed to revoke entry: {exc}") from exc
        del self.leases[lease_id]
        owner = self.tokens.get(lease.token_id)
        if owner:
            owner.leases.discard(lease_id)

    def revoke_prefix(self, prefix: str) -> None:
        """Like Vault: an exact lease ID, else everything under ``prefix/``.

        Token leases live at ``<login path>/<id>``, so ``auth/userpass/login/al``
        revokes al's tokens and not alice's.
        """
        if prefix in self.leases:
            self.revoke_lease(prefix)
            return
        if not prefix.endswith("/"):
            prefix += "/"
        for lease_id in [lid for lid in self.leases if lid.startswith(prefix)]:
            self.revoke_lease(lease_id)
        for token in [t for t in self.tokens.values() if (t.path + "/").startswith(prefix)]:
            self.revoke_token(token.id)

    def expire_due(self) -> None:
        """Revoke what has expired, like Vault's expiration manager (run on every request)."""
        now = self.clock.now()
        for token in [t for t in self.tokens.values() if t.expire_time and t.expire_time <= now]:
            self.revoke_token(token.id)
        for lease in [lease for lease in self.leases.values() if lease.expire_time <= now]:
            try:
                self.revoke_lease(lease.id)
            except VaultFailure:
                continue  # the backend is down; Vault retries later
