"""The prober's metrics token: cached until a minute before ``exp``, refreshed on a
refusal at most once per probe round, errors logged once per change and never raised;
and the monitor's metrics-only caller identity."""

from __future__ import annotations

import pytest

from mlctl import redact
from mlctl.access import policy_files
from mlctl.access.callers import CallerKind, monitor_grants, parse_caller_role
from mlctl.access.roles import NomadAuth
from mlctl.bundle.schema import CALLER_CLAIM, METRICS_CLAIM, MODELS_CLAIM, NAMESPACES_CLAIM
from mlctl.errors import AuthError
from mlctl.monitor.metrics_tokens import MIN_REFRESH_AGE, RENEW_BEFORE, MetricsTokens, expiry
from tests.simulators.vault.policy import ACL, parse_policy
from tests.unit.monitor_objects import unsigned_jwt


def jwt_with(exp: float | None, serial: int) -> str:
    """A JWT-shaped token (unsigned: the source only reads ``exp``)."""
    claims: dict[str, object] = {"sub": f"entity-{serial}"}
    if exp is not None:
        claims["exp"] = exp
    return unsigned_jwt(claims)


class FakeVault:
    """``obtain(fresh)``: a new token per call living ``ttl`` seconds, or an error."""

    def __init__(self, clock: Clock, ttl: float | None = 900.0) -> None:
        self.clock, self.ttl = clock, ttl
        self.calls: list[bool] = []
        self.error: Exception | None = None

    def __call__(self, fresh: bool) -> str | None:
        self.calls.append(fresh)
        if self.error is not None:
            raise self.error
        exp = None if self.ttl is None else self.clock() + self.ttl
        return jwt_with(exp, len(self.calls))


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_expiry_reads_exp_and_refuses_what_is_not_a_jwt():
    assert expiry(jwt_with(1234.0, 1)) == 1234.0
    assert expiry(jwt_with(None, 1)) is None
    assert expiry("not-a-jwt") is None
    assert expiry("a.%%%.c") is None
    assert expiry("a.bnVsbA.c") is None  # payload "null"


def test_the_token_is_cached_until_a_minute_before_it_expires(clock):
    vault = FakeVault(clock, ttl=900)
    tokens = MetricsTokens(vault, clock=clock)
    first = tokens.start_round()
    assert first is not None and vault.calls == [False]
    clock.now += 900 - RENEW_BEFORE - 1
    assert tokens.start_round() == first and len(vault.calls) == 1
    clock.now += 1
    second = tokens.start_round()
    assert second not in (None, first) and vault.calls == [False, False]


def test_a_refusal_refreshes_once_per_round_however_many_endpoints_refuse(clock):
    vault = FakeVault(clock)
    tokens = MetricsTokens(vault, clock=clock)
    old = tokens.start_round()
    clock.now += MIN_REFRESH_AGE
    tokens.start_round()
    fresh = tokens.refused(old)
    assert fresh not in (None, old) and vault.calls == [False, True]
    # Forty more endpoints report the old token refused: they get the new one, no call.
    assert {tokens.refused(old) for _ in range(40)} == {fresh}
    # The new one refused too (a server that will refuse any token): nothing more now.
    assert tokens.refused(fresh) is None
    assert len(vault.calls) == 2
    clock.now += MIN_REFRESH_AGE  # next round, and the token is old enough: one more
    tokens.start_round()
    assert tokens.refused(fresh) not in (None, fresh)
    assert len(vault.calls) == 3


def test_a_token_just_obtained_is_not_replaced_on_refusal(clock):
    vault = FakeVault(clock)
    tokens = MetricsTokens(vault, clock=clock)
    token = tokens.start_round()
    for _ in range(5):  # five rounds within the minute, every server refusing
        tokens.start_round()
        assert tokens.refused(token) is None
        clock.now += MIN_REFRESH_AGE / 6
    assert vault.calls == [False]


def test_without_an_identity_there_is_no_token_and_asking_is_bounded(clock):
    calls: list[bool] = []

    def nobody(fresh: bool) -> str | None:
        calls.append(fresh)
        return None

    tokens = MetricsTokens(nobody, clock=clock)
    for _ in range(3):
        assert tokens.start_round() is None
        assert tokens.current() is None
        assert tokens.refused(None) is None
    assert calls == [False, False, False]  # once per round, not once per endpoint


def test_errors_are_logged_once_per_change_redacted_and_never_raised(clock):
    lines: list[str] = []
    vault = FakeVault(clock, ttl=300)
    tokens = MetricsTokens(vault, clock=clock, log=lines.append)
    token = tokens.start_round()
    assert token is not None
    redact.register("s3cr3t-role-secret-id")
    vault.error = AuthError("login failed for s3cr3t-role-secret-id")
    clock.now += 300 - RENEW_BEFORE  # due, not yet expired: keep sending the old one
    assert tokens.start_round() == token
    assert tokens.start_round() == token
    clock.now += RENEW_BEFORE  # expired: better none than a dead one
    assert tokens.start_round() is None
    vault.error = AuthError("Vault is sealed")
    assert tokens.start_round() is None
    assert tokens.start_round() is None
    vault.error = None
    assert tokens.start_round() is not None
    assert len(lines) == 3, lines
    assert "s3cr3t" not in "".join(lines) and "[redacted]" in lines[0]
    assert "sealed" in lines[1] and lines[2] == "metrics token: obtained again"
    assert all(token not in line for line in lines)


def test_a_token_without_exp_is_kept_until_refused(clock):
    vault = FakeVault(clock, ttl=None)
    tokens = MetricsTokens(vault, clock=clock)
    token = tokens.start_round()
    clock.now += 86_400
    assert tokens.start_round() == token and len(vault.calls) == 1


# ---------------------------------------------------------------------- the identity


def test_the_monitor_may_read_every_metrics_and_call_no_model():
    grants = monitor_grants()
    assert grants.role == "mlctl-call-service-mlctl-monitor"
    assert parse_caller_role(grants.role) == (CallerKind.SERVICE, "mlctl-monitor")
    assert grants.claims() == {
        CALLER_CLAIM: "service:mlctl-monitor",
        MODELS_CLAIM: [],
        NAMESPACES_CLAIM: [],
        METRICS_CLAIM: ["*"],
    }
    assert grants.why_allowed("team-a", "iris") is None


@pytest.mark.parametrize("mode", list(NomadAuth))
def test_the_monitor_policy_reads_its_own_model_token_only(mode):
    text = policy_files.vault_role_policies(mode)["mlctl-monitor"]
    acl = ACL.build([parse_policy(text)])
    assert acl.allows("identity/oidc/token/mlctl-call-service-mlctl-monitor", "read")
    assert not acl.allows("identity/oidc/token/mlctl-call-app-billing", "read")
    assert not acl.allows("identity/oidc/token/mlctl-call-user-alice", "read")
    assert not acl.allows("identity/oidc/role/mlctl-call-service-mlctl-monitor", "update")
