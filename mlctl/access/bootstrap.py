"""``mlctl vault bootstrap``: everything mlctl needs in Vault and Nomad, idempotently.

Two ways to give users Nomad tokens (:class:`~mlctl.access.roles.NomadAuth`):

- ``secrets-engine``: Vault's Nomad secrets engine holds a Nomad management token and
  mints per-user tokens under leases (HashiCorp Vault only);
- ``jwt``: Vault signs identity tokens whose claims carry the user's role and
  namespaces, and Nomad's JWT auth method exchanges them at ``/v1/acl/login`` through
  binding rules. Works on Vault and OpenBao; Vault holds no Nomad token at all.

Each step reads first and writes only what differs, so a second run reports every
resource as "unchanged". The one thing Vault cannot show back is the Nomad token in
``nomad/config/access``; it is written when the access configuration is missing, when
the Nomad address changed, or when asked (``rotate_token``). A failure part-way raises
:class:`SetupFailed` carrying what had already changed; running again completes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mlctl.access.callers import (
    MODEL_TOKEN_TTL,
    MODEL_TOKEN_TTL_SECONDS,
    MODELS_KEY,
    Grants,
    monitor_grants,
)
from mlctl.access.changes import Change
from mlctl.access.policy_files import (
    data_scientist_nomad_policy,
    description_of,
    nomad_role_policies,
    vault_role_policies,
)
from mlctl.access.roles import (
    AUTH_METHOD,
    IDENTITY_TOKEN_TTL,
    KEY_ROTATION,
    KEY_VERIFICATION_TTL,
    MONITOR,
    MONITOR_ROLE_CLAIM,
    MONITOR_TOKEN_MAX_TTL,
    MONITOR_TOKEN_TTL,
    NOMAD_ACL_ROLES,
    NOMAD_AUDIENCE,
    NOMAD_LEASE_MAX_TTL,
    NOMAD_LEASE_TTL,
    NOMAD_LOGIN_TTL,
    OIDC_KEY,
    NomadAuth,
    check_namespace,
    ds_policy,
    identity_claims,
    login_token_name,
    namespace_selector,
    shared_binding_rules,
)
from mlctl.bundle.schema import MODEL_AUDIENCE
from mlctl.errors import ConfigError, MlctlError
from mlctl.nomad import acl_auth
from mlctl.nomad.acl import ensure_namespace, ensure_policy
from mlctl.nomad.client import NomadClient
from mlctl.vault import approle, auth_methods, identity, mounts, nomad_engine, policies
from mlctl.vault.capabilities import builtin_secrets_engine
from mlctl.vault.client import Vault


@dataclass(frozen=True)
class NomadAccess:
    """How Vault reaches Nomad: address, management token, optional CA (PEM text)."""

    address: str
    token: str
    ca_cert: str | None = None


@dataclass(frozen=True)
class JwtTrust:
    """How Nomad checks Vault's identity tokens: keys URL, issuer, optional CA (PEM)."""

    jwks_url: str
    issuer: str
    ca_cert: str | None = None


class SetupFailed(MlctlError):
    """A setup that stopped part-way: the cause, plus what had already changed."""

    def __init__(self, cause: MlctlError, changes: list[Change]) -> None:
        done = [c for c in changes if c.action != "unchanged"]
        hint = cause.hint or "fix the cause"
        super().__init__(
            cause.message,
            hint=f"{hint}; {len(done)} resources were already changed (listed with this "
            "error) — run the same command again to complete the setup",
            title=cause.title,
        )
        self.status = cause.status
        self.cause = cause
        self.changes = list(changes)

    def to_dict(self) -> dict[str, object]:
        """``-o json``: the error plus every resource touched before it."""
        return {**super().to_dict(), "changes": [c.row() for c in self.changes]}


# --------------------------------------------------------------------------- the mode


def current_mode(vault: Vault) -> NomadAuth | None:
    """The mode bootstrap set up (JWT wins if both were), or None before bootstrap."""
    if identity.read_key(vault, OIDC_KEY) is not None:
        return NomadAuth.JWT
    if mounts.mounted_engines(vault).get("nomad") == "nomad":
        return NomadAuth.SECRETS_ENGINE
    return None


def choose_mode(vault: Vault, requested: NomadAuth | None) -> tuple[NomadAuth, str]:
    """The mode to set up, and why (printed by the CLI)."""
    mounted = mounts.mounted_engines(vault).get("nomad") == "nomad"
    in_catalog = None if mounted else builtin_secrets_engine(vault, "nomad")
    if requested is NomadAuth.SECRETS_ENGINE:
        if in_catalog is False:
            raise ConfigError(
                f"Vault at {vault.address} has no Nomad secrets engine (OpenBao ships none)",
                hint="use --nomad-auth jwt: Nomad logins with Vault identity tokens",
            )
        return requested, "as asked"
    if requested is NomadAuth.JWT:
        return requested, "as asked"
    if identity.read_key(vault, OIDC_KEY) is not None:
        return NomadAuth.JWT, "already set up for identity tokens"
    if mounted:
        return NomadAuth.SECRETS_ENGINE, "the Nomad secrets engine is already mounted"
    if in_catalog:
        return NomadAuth.SECRETS_ENGINE, "this Vault has the Nomad secrets engine"
    if in_catalog is False:
        return NomadAuth.JWT, "this server has no Nomad secrets engine (OpenBao?)"
    return NomadAuth.JWT, "the plugin catalog is not readable; identity tokens work everywhere"


# --------------------------------------------------------------------------- shared steps


def _auth_methods(vault: Vault) -> list[Change]:
    enabled = auth_methods.enabled_auth_methods(vault)
    changes = []
    for kind, description in (
        ("userpass", "mlctl users (people)"),
        ("approle", "mlctl services (the monitor loop)"),
    ):
        if enabled.get(kind) == kind:
            changes.append(Change("vault", "auth method", f"auth/{kind}", "unchanged"))
            continue
        auth_methods.enable_auth_method(vault, kind, kind, description)
        changes.append(Change("vault", "auth method", f"auth/{kind}", "created"))
    return changes


def ensure_vault_policy(vault: Vault, name: str, text: str) -> Change:
    current = policies.read_policy(vault, name)
    if current is not None and current.strip() == text.strip():
        return Change("vault", "policy", name, "unchanged")
    policies.write_policy(vault, name, text)
    return Change("vault", "policy", name, "created" if current is None else "updated")


def ensure_namespace_grant(
    nomad: NomadClient, namespace: str, mode: NomadAuth = NomadAuth.SECRETS_ENGINE
) -> list[Change]:
    """The namespace, its data-scientist Nomad policy and (JWT) the rule granting it."""
    check_namespace(namespace)
    action = ensure_namespace(nomad, namespace, "created by mlctl")
    changes = [Change("nomad", "namespace", namespace, action)]
    rules = data_scientist_nomad_policy(namespace)
    action = ensure_policy(nomad, ds_policy(namespace), description_of(rules), rules)
    changes.append(Change("nomad", "acl policy", ds_policy(namespace), action))
    if mode is NomadAuth.JWT:
        rule = acl_auth.BindingRule(
            f"mlctl: data scientists of {namespace}",
            namespace_selector(namespace),
            "policy",
            ds_policy(namespace),
        )
        action = acl_auth.ensure_binding_rule(nomad, AUTH_METHOD, rule)
        changes.append(Change("nomad", "binding rule", rule.description, action))
    return changes


def _monitor_approle(vault: Vault) -> Change:
    current = approle.read_role(vault, MONITOR)
    if current is not None and list(current.policies) == [MONITOR]:
        return Change("vault", "approle", f"auth/approle/role/{MONITOR}", "unchanged")
    approle.write_role(
        vault,
        MONITOR,
        policies=[MONITOR],
        token_ttl=MONITOR_TOKEN_TTL,
        token_max_ttl=MONITOR_TOKEN_MAX_TTL,
    )
    action = "created" if current is None else "updated"
    return Change("vault", "approle", f"auth/approle/role/{MONITOR}", action)


# --------------------------------------------------------------------------- secrets engine


def ensure_nomad_role(vault: Vault, name: str, token_type: str, wanted: list[str]) -> Change:
    current = nomad_engine.read_role(vault, name)
    if (
        current is not None
        and current.type == token_type
        and sorted(current.policies) == sorted(wanted)
    ):
        return Change("vault", "nomad role", f"nomad/role/{name}", "unchanged")
    nomad_engine.write_role(vault, name, policies=wanted, token_type=token_type)
    action = "created" if current is None else "updated"
    return Change("vault", "nomad role", f"nomad/role/{name}", action)


def _nomad_engine(vault: Vault, access: NomadAccess, rotate_token: bool) -> list[Change]:
    changes = []
    if mounts.mounted_engines(vault).get("nomad") == "nomad":
        changes.append(Change("vault", "secrets engine", "nomad/", "unchanged"))
    else:
        mounts.mount_engine(vault, "nomad", "nomad", "Nomad ACL tokens for mlctl users")
        changes.append(Change("vault", "secrets engine", "nomad/", "created"))
    current = nomad_engine.read_access(vault)
    same_address = current is not None and str(current.get("address", "")).rstrip(
        "/"
    ) == access.address.rstrip("/")
    if same_address and not rotate_token:
        changes.append(Change("vault", "nomad access", "nomad/config/access", "unchanged"))
    else:
        nomad_engine.write_access(
            vault, address=access.address, token=access.token, ca_cert=access.ca_cert
        )
        action = "created" if current is None else "updated"
        changes.append(Change("vault", "nomad access", "nomad/config/access", action))
    lease = nomad_engine.read_lease(vault)
    wanted = {"ttl": NOMAD_LEASE_TTL, "max_ttl": NOMAD_LEASE_MAX_TTL}
    if lease is not None and {k: int(lease.get(k) or 0) for k in wanted} == wanted:
        changes.append(Change("vault", "nomad lease", "nomad/config/lease", "unchanged"))
    else:
        nomad_engine.write_lease(vault, ttl=NOMAD_LEASE_TTL, max_ttl=NOMAD_LEASE_MAX_TTL)
        action = "created" if lease is None else "updated"
        changes.append(Change("vault", "nomad lease", "nomad/config/lease", action))
    return changes


# --------------------------------------------------------------------------- JWT


def ensure_identity_role(vault: Vault, name: str, claims: dict[str, object]) -> Change:
    """The identity token role ``name`` with exactly ``claims``, for Nomad's audience."""
    current = identity.read_role(vault, name)
    if (
        current is not None
        and current.key == OIDC_KEY
        and current.client_id == NOMAD_AUDIENCE
        and current.claims == claims
        and current.ttl == _seconds(IDENTITY_TOKEN_TTL)
    ):
        return Change("vault", "identity role", f"identity/oidc/role/{name}", "unchanged")
    identity.write_role(
        vault, name, key=OIDC_KEY, client_id=NOMAD_AUDIENCE, claims=claims, ttl=IDENTITY_TOKEN_TTL
    )
    action = "created" if current is None else "updated"
    return Change("vault", "identity role", f"identity/oidc/role/{name}", action)


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


def _signing_key(vault: Vault) -> Change:
    current = identity.read_key(vault, OIDC_KEY)
    if current is not None and NOMAD_AUDIENCE in current.allowed_client_ids:
        return Change("vault", "identity key", f"identity/oidc/key/{OIDC_KEY}", "unchanged")
    allowed = sorted({*(current.allowed_client_ids if current else ()), NOMAD_AUDIENCE})
    identity.write_key(
        vault,
        OIDC_KEY,
        allowed_client_ids=allowed,
        rotation_period=KEY_ROTATION,
        verification_ttl=KEY_VERIFICATION_TTL,
    )
    action = "created" if current is None else "updated"
    return Change("vault", "identity key", f"identity/oidc/key/{OIDC_KEY}", action)


def ensure_models_key(vault: Vault) -> Change:
    """The key that signs model-caller tokens (issue 15; both modes), allowed to sign
    for the model servers' audience only."""
    path = f"identity/oidc/key/{MODELS_KEY}"
    current = identity.read_key(vault, MODELS_KEY)
    if current is not None and MODEL_AUDIENCE in current.allowed_client_ids:
        return Change("vault", "identity key", path, "unchanged")
    allowed = sorted({*(current.allowed_client_ids if current else ()), MODEL_AUDIENCE})
    identity.write_key(
        vault,
        MODELS_KEY,
        allowed_client_ids=allowed,
        rotation_period=KEY_ROTATION,
        verification_ttl=KEY_VERIFICATION_TTL,
    )
    return Change("vault", "identity key", path, "created" if current is None else "updated")


def write_grants(vault: Vault, grants: Grants) -> Change:
    """Write a model caller's token role (its grants, see :mod:`mlctl.access.callers`)
    unless it already says exactly this."""
    path = f"identity/oidc/role/{grants.role}"
    current = identity.read_role(vault, grants.role)
    wanted = grants.claims()
    if (
        current is not None
        and current.key == MODELS_KEY
        and current.client_id == MODEL_AUDIENCE
        and current.claims == wanted
        and current.ttl == MODEL_TOKEN_TTL_SECONDS
    ):
        return Change("vault", "identity role", path, "unchanged")
    identity.write_role(
        vault,
        grants.role,
        key=MODELS_KEY,
        client_id=MODEL_AUDIENCE,
        claims=wanted,
        ttl=MODEL_TOKEN_TTL,
    )
    return Change("vault", "identity role", path, "created" if current is None else "updated")


def auth_method_spec(trust: JwtTrust) -> dict[str, object]:
    """Nomad's JWT auth method trusting Vault's identity tokens for Nomad's audience."""
    return {
        "Name": AUTH_METHOD,
        "Type": "JWT",
        "TokenLocality": "global",
        "TokenNameFormat": login_token_name("${value.username}"),
        "MaxTokenTTL": NOMAD_LOGIN_TTL,
        "Default": False,
        "Config": {
            "JWKSURL": trust.jwks_url,
            "JWKSCACert": trust.ca_cert or "",
            "BoundIssuer": [trust.issuer],
            "BoundAudiences": [NOMAD_AUDIENCE],
            "SigningAlgs": ["RS256"],
            "ClaimMappings": {"username": "username", "role": "role"},
            "ListClaimMappings": {"namespaces": "namespaces"},
        },
    }


def _jwt_nomad_side(nomad: NomadClient, trust: JwtTrust) -> list[Change]:
    changes = []
    for name in NOMAD_ACL_ROLES:
        action = acl_auth.ensure_role(nomad, name, f"mlctl {NOMAD_ACL_ROLES[name]}s", [name])
        changes.append(Change("nomad", "acl role", name, action))
    action = acl_auth.ensure_auth_method(nomad, auth_method_spec(trust))
    changes.append(Change("nomad", "auth method", AUTH_METHOD, action))
    for description, selector, bind_type, bind_name in shared_binding_rules():
        rule = acl_auth.BindingRule(description, selector, bind_type, bind_name)
        action = acl_auth.ensure_binding_rule(nomad, AUTH_METHOD, rule)
        changes.append(Change("nomad", "binding rule", description, action))
    return changes


# --------------------------------------------------------------------------- the whole setup


def bootstrap(
    vault: Vault,
    nomad: NomadClient,
    namespaces: Iterable[str] = (),
    *,
    mode: NomadAuth,
    access: NomadAccess | None = None,
    trust: JwtTrust | None = None,
    rotate_token: bool = False,
) -> list[Change]:
    """Set up Vault and Nomad for mlctl; returns what changed and what was in place."""
    wanted_namespaces = [check_namespace(ns) for ns in namespaces]
    changes: list[Change] = []
    try:
        changes += _auth_methods(vault)
        if mode is NomadAuth.SECRETS_ENGINE:
            if access is None:
                raise ConfigError("the secrets-engine mode needs Nomad access for Vault")
            changes += _nomad_engine(vault, access, rotate_token)
        for name, text in vault_role_policies(mode).items():
            changes.append(ensure_vault_policy(vault, name, text))
        for name, rules in nomad_role_policies().items():
            action = ensure_policy(nomad, name, description_of(rules), rules)
            changes.append(Change("nomad", "acl policy", name, action))
        if mode is NomadAuth.JWT:
            if trust is None:
                raise ConfigError("the jwt mode needs the address Nomad reaches Vault at")
            changes.append(_signing_key(vault))
            changes += _jwt_nomad_side(nomad, trust)
        changes.append(ensure_models_key(vault))  # model callers' tokens, in both modes
        # The monitor's own model token: read every server's /metrics, call no model.
        changes.append(write_grants(vault, monitor_grants()))
        for namespace in wanted_namespaces:
            changes += ensure_namespace_grant(nomad, namespace, mode)
        if mode is NomadAuth.JWT:
            claims = identity_claims(MONITOR_ROLE_CLAIM, MONITOR, [])
            changes.append(ensure_identity_role(vault, MONITOR, claims))
        else:
            changes.append(ensure_nomad_role(vault, MONITOR, "client", [MONITOR]))
        changes.append(_monitor_approle(vault))
    except MlctlError as exc:
        raise SetupFailed(exc, changes) from exc
    return changes
