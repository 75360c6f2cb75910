"""The shipped policies: they parse, grant what each role needs and nothing more."""

from __future__ import annotations

import hcl2
import pytest

from mlctl.access import policy_files
from mlctl.errors import InvalidInput
from tests.simulators.vault.policy import ACL, parse_policy


def role_acl(name: str, username: str = "alice") -> ACL:
    texts = [policy_files.vault_role_policies()[name]]
    if name != "mlctl-monitor":
        texts.append(policy_files.user_vault_policy(username))
    return ACL.build([parse_policy(t) for t in texts])


@pytest.mark.parametrize(
    "name", ["mlctl-admin", "mlctl-operator", "mlctl-data-scientist", "mlctl-viewer"]
)
def test_every_user_manages_only_its_own_token_and_credentials(name):
    acl = role_acl(name)
    assert acl.allows("auth/token/lookup-self", "read")
    assert acl.allows("auth/token/renew-self", "update")
    assert acl.allows("auth/token/revoke-self", "update")
    assert acl.allows("nomad/creds/mlctl-user-alice", "read")
    assert not acl.allows("nomad/creds/mlctl-user-bob", "read")
    assert not acl.allows("nomad/creds/mlctl-monitor", "read")
    assert not acl.allows("sys/leases/revoke", "update")


@pytest.mark.parametrize("name", ["mlctl-operator", "mlctl-data-scientist", "mlctl-viewer"])
def test_non_admins_cannot_manage_users_policies_or_nomad_roles(name):
    acl = role_acl(name)
    assert not acl.allows("auth/userpass/users/mallory", "create")
    assert not acl.allows("auth/userpass/users/", "list")
    assert not acl.allows("sys/policies/acl/mlctl-user-alice", "update")
    assert not acl.allows("nomad/role/mlctl-user-alice", "update")
    assert not acl.allows("nomad/config/access", "read")


def test_admin_can_run_bootstrap_again_and_manage_users():
    acl = role_acl("mlctl-admin", "root-admin")
    assert acl.allows("sys/auth/userpass", "update", sudo=True)
    assert acl.allows("sys/policies/acl/mlctl-viewer", "update")
    assert not acl.allows("sys/policies/acl/root", "update")
    assert acl.allows("auth/userpass/users/alice", "create")
    assert acl.allows("nomad/role/mlctl-user-alice", "create")
    assert acl.allows("sys/leases/revoke-prefix/nomad/creds/mlctl-user-alice", "update", sudo=True)
    assert not acl.allows("sys/leases/revoke-prefix/aws/creds/x", "update", sudo=True)
    assert not acl.allows("nomad/creds/mlctl-user-alice", "read")  # not someone else's creds
    assert not acl.allows("secret/data/anything", "read")


def test_the_monitor_may_mint_only_the_monitor_credentials():
    acl = role_acl("mlctl-monitor")
    assert acl.allows("nomad/creds/mlctl-monitor", "read")
    assert not acl.allows("nomad/creds/mlctl-user-alice", "read")


def test_nomad_policies_are_valid_hcl_and_scoped():
    for name, rules in policy_files.nomad_role_policies().items():
        assert hcl2.loads(rules), name
    ds = hcl2.loads(policy_files.data_scientist_nomad_policy("team-a"))
    (namespace,) = ds["namespace"]
    assert list(namespace) == ['"team-a"']
    caps = {c.strip('"') for c in namespace['"team-a"']["capabilities"]}
    assert {"submit-job", "read-job", "scale-job", "read-logs", "alloc-lifecycle"} <= caps
    assert "policy" not in namespace['"team-a"']  # no broad "write"


@pytest.mark.parametrize("bad", ['team"a', "team a", "../x", "Team-A", "", "a" * 64])
def test_templates_refuse_names_that_could_change_a_policy(bad):
    with pytest.raises(InvalidInput):
        policy_files.data_scientist_nomad_policy(bad)
    with pytest.raises(InvalidInput):
        policy_files.user_vault_policy(bad)


def jwt_acl(name: str, username: str = "alice") -> ACL:
    from mlctl.access.roles import NomadAuth

    texts = [policy_files.vault_role_policies(NomadAuth.JWT)[name]]
    if name != "mlctl-monitor":
        texts.append(policy_files.user_vault_policy(username, NomadAuth.JWT))
    return ACL.build([parse_policy(t) for t in texts])


@pytest.mark.parametrize(
    "name", ["mlctl-admin", "mlctl-operator", "mlctl-data-scientist", "mlctl-viewer"]
)
def test_in_jwt_mode_a_user_reads_only_its_own_identity_token(name):
    acl = jwt_acl(name)
    assert acl.allows("identity/oidc/token/mlctl-user-alice", "read")
    assert not acl.allows("identity/oidc/token/mlctl-user-bob", "read")
    assert not acl.allows("identity/oidc/token/mlctl-monitor", "read")
    assert not acl.allows("nomad/creds/mlctl-user-alice", "read")
    assert acl.allows("sys/capabilities-self", "update")  # login asks which path it has


def test_in_jwt_mode_the_monitor_reads_only_its_identity_token():
    acl = jwt_acl("mlctl-monitor")
    assert acl.allows("identity/oidc/token/mlctl-monitor", "read")
    assert not acl.allows("nomad/creds/mlctl-monitor", "read")
    assert not acl.allows("identity/oidc/token/mlctl-user-alice", "read")


def test_admin_manages_mlctl_identity_roles_and_reads_the_catalog_entry():
    acl = role_acl("mlctl-admin", "root-admin")
    assert acl.allows("identity/oidc/key/mlctl", "create")
    assert acl.allows("identity/oidc/role/mlctl-user-alice", "delete")
    assert not acl.allows("identity/oidc/role/someone-elses", "update")
    assert not acl.allows("identity/oidc/key/other", "update")
    assert acl.allows("sys/plugins/catalog/secret/nomad", "read", sudo=True)
