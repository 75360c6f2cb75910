"""Roles map to the right names and grants; bad names and combinations are refused."""

from __future__ import annotations

import pytest

from mlctl.access.roles import (
    NOMAD_ACL_ROLES,
    Role,
    check_grant,
    check_username,
    identity_claims,
    namespace_selector,
    namespaces_of,
    nomad_grant,
    role_from_claims,
    role_from_policies,
    shared_binding_rules,
    vault_policies,
)
from mlctl.errors import InvalidInput
from mlctl.local.engine import bexpr, jwt_auth


def test_each_role_gets_its_nomad_grant():
    assert nomad_grant(Role.ADMIN, []) == ("management", [])
    assert nomad_grant(Role.OPERATOR, []) == ("client", ["mlctl-operator"])
    assert nomad_grant(Role.VIEWER, []) == ("client", ["mlctl-viewer"])
    assert nomad_grant(Role.DATA_SCIENTIST, ["a", "b"]) == ("client", ["mlctl-ds-a", "mlctl-ds-b"])


def test_role_and_namespaces_read_back_from_policies():
    assert role_from_policies(vault_policies(Role.VIEWER, "v")) is Role.VIEWER
    assert role_from_policies(["default"]) is None
    assert namespaces_of(["mlctl-ds-team-b", "mlctl-viewer", "mlctl-ds-team-a"]) == [
        "team-a",
        "team-b",
    ]


def test_namespaces_belong_to_data_scientists_only():
    assert check_grant(Role.DATA_SCIENTIST, ["a", "a", "b"]) == ("a", "b")
    with pytest.raises(InvalidInput, match="at least one namespace"):
        check_grant(Role.DATA_SCIENTIST, [])
    with pytest.raises(InvalidInput, match="data scientists only"):
        check_grant(Role.VIEWER, ["a"])


@pytest.mark.parametrize("name", ["Alice", "-x", "a b", "a/b", "ä", ""])
def test_bad_usernames_are_refused_with_a_hint(name):
    with pytest.raises(InvalidInput) as caught:
        check_username(name)
    assert caught.value.hint


# --- JWT mode: the claims mlctl writes and the binding rules that read them -------------


MAPPINGS = {
    "ClaimMappings": {"username": "username", "role": "role"},
    "ListClaimMappings": {"namespaces": "namespaces"},
}


def bound(claims):
    """What Nomad's binding rules give these claims (evaluated by the engine's bexpr)."""
    data = jwt_auth.selector_data(claims, MAPPINGS)
    rules = [(selector, kind, name) for _, selector, kind, name in shared_binding_rules()]
    rules += [(namespace_selector(ns), "policy", f"mlctl-ds-{ns}") for ns in ("team-a", "team-b")]
    return sorted((kind, name) for selector, kind, name in rules if bexpr.matches(selector, data))


def test_claims_name_the_user_role_and_sorted_namespaces():
    claims = identity_claims(Role.DATA_SCIENTIST, "alice", ["team-b", "team-a", "team-b"])
    assert claims == {
        "username": "alice",
        "role": "data-scientist",
        "namespaces": ["team-a", "team-b"],
    }
    assert role_from_claims(claims) is Role.DATA_SCIENTIST
    assert role_from_claims({"role": "pirate"}) is None


def test_binding_rules_give_each_role_what_the_secrets_engine_would():
    assert bound(identity_claims(Role.ADMIN, "ada", [])) == [("management", "")]
    assert bound(identity_claims(Role.OPERATOR, "op", [])) == [("role", "mlctl-operator")]
    assert bound(identity_claims(Role.VIEWER, "vic", [])) == [("role", "mlctl-viewer")]
    assert bound(identity_claims("monitor", "mlctl-monitor", [])) == [("role", "mlctl-monitor")]
    alice = identity_claims(Role.DATA_SCIENTIST, "alice", ["team-a"])
    assert bound(alice) == [("policy", "mlctl-ds-team-a")]
    # A viewer claiming a namespace gets no data-scientist policy from it.
    assert bound(identity_claims(Role.VIEWER, "vic", ["team-a"])) == [("role", "mlctl-viewer")]
    assert set(NOMAD_ACL_ROLES) == {"mlctl-operator", "mlctl-viewer", "mlctl-monitor"}


def test_every_selector_compiles():
    for _, selector, _, _ in shared_binding_rules():
        bexpr.compile_selector(selector)
    bexpr.compile_selector(namespace_selector("team-a"))
    with pytest.raises(InvalidInput):
        namespace_selector('x" or "1')
