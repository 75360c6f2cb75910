"""Roles map to the right names and grants; bad names and combinations are refused."""

from __future__ import annotations

import pytest

from mlctl.access.roles import (
    Role,
    check_grant,
    check_username,
    namespaces_of,
    nomad_grant,
    role_from_policies,
    vault_policies,
)
from mlctl.errors import InvalidInput


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
