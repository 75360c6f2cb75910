"""The simulator's Vault ACL rules, checked against the examples in Vault's policy docs."""

from __future__ import annotations

import pytest

from tests.simulators.vault.policy import ACL, PolicyError, parse_policy


def acl(*texts: str) -> ACL:
    return ACL.build([parse_policy(t) for t in texts])


def test_exact_path_matches_only_itself():
    a = acl('path "secret/foo" { capabilities = ["read"] }')
    assert a.allows("secret/foo", "read")
    assert not a.allows("secret/food", "read")
    assert not a.allows("secret/foo/bar", "read")
    assert not a.allows("secret/foo", "update")


def test_glob_is_a_prefix_match():
    a = acl('path "secret/zip-*" { capabilities = ["read"] }')
    assert a.allows("secret/zip-zap", "read")
    assert a.allows("secret/zip-zap/zong", "read")
    assert not a.allows("secret/zip/zap", "read")


def test_plus_matches_exactly_one_segment():
    a = acl('path "secret/+/teamb" { capabilities = ["read"] }')
    assert a.allows("secret/foo/teamb", "read")
    assert not a.allows("secret/foo/bar/teamb", "read")
    assert not a.allows("secret/teamb", "read")


def test_deny_wins_over_a_broader_grant():
    a = acl(
        'path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }',
        'path "secret/super-secret" { capabilities = ["deny"] }',
    )
    assert a.allows("secret/other", "read")
    assert not a.allows("secret/super-secret", "read")


def test_same_pattern_in_two_policies_unions_capabilities():
    a = acl('path "x/y" { capabilities = ["read"] }', 'path "x/y" { capabilities = ["update"] }')
    assert a.allows("x/y", "read") and a.allows("x/y", "update")


def test_most_specific_pattern_alone_decides():
    # The longer glob matches and grants only read: the broad update does not add to it.
    a = acl('path "a/*" { capabilities = ["update"] }', 'path "a/b/*" { capabilities = ["read"] }')
    assert a.allows("a/b/c", "read")
    assert not a.allows("a/b/c", "update")
    assert a.allows("a/x", "update")


def test_plus_segments_lose_to_a_plain_glob_at_the_same_position():
    # Vault docs: "secret/*" beats "secret/+/+/foo/*" (rule 3: more + segments is lower).
    a = acl(
        'path "secret/*" { capabilities = ["read"] }',
        'path "secret/+/+/foo/*" { capabilities = ["update"] }',
    )
    assert a.allows("secret/a/b/foo/c", "read")
    assert not a.allows("secret/a/b/foo/c", "update")


def test_sudo_is_needed_on_root_protected_paths():
    plain = acl('path "sys/auth/userpass" { capabilities = ["create", "update"] }')
    sudo = acl('path "sys/auth/userpass" { capabilities = ["update", "sudo"] }')
    assert not plain.allows("sys/auth/userpass", "update", sudo=True)
    assert sudo.allows("sys/auth/userpass", "update", sudo=True)


def test_deny_beats_sudo():
    a = acl('path "sys/x" { capabilities = ["deny", "sudo", "update"] }')
    assert not a.allows("sys/x", "update", sudo=True)


def test_list_matches_an_exact_rule_without_the_trailing_slash():
    a = acl('path "auth/userpass/users" { capabilities = ["list"] }')
    assert a.allows("auth/userpass/users/", "list")


def test_nothing_is_allowed_by_default():
    assert not acl().allows("anything", "read")


def test_root_may_do_anything():
    assert ACL(root=True).allows("sys/leases/revoke-prefix/x", "update", sudo=True)


@pytest.mark.parametrize(
    "text",
    [
        'path "a" { capabilities = ["reed"] }',
        'path "a*b" { capabilities = ["read"] }',
        "this is not hcl {",
        'paths "a" { capabilities = ["read"] }',
    ],
)
def test_invalid_policies_are_refused(text):
    with pytest.raises(PolicyError):
        parse_policy(text)
