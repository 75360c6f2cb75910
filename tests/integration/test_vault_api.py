"""The Vault API through the real hvac client: shapes, errors and enforcement.

Against a real dev server (OpenBao's ``bao``, or ``vault`` when on PATH); only the test
that moves the clock uses the simulator, because a real server's clock cannot be moved.
"""

from __future__ import annotations

import hvac
import hvac.exceptions as hvac_exc
import pytest
import requests


@pytest.fixture
def root(vault_server):
    return hvac.Client(url=vault_server.address, token=vault_server.root_token)


@pytest.fixture
def userpass(root):
    root.sys.enable_auth_method("userpass")
    root.sys.create_or_update_acl_policy(
        "reader", 'path "auth/token/lookup-self" { capabilities = ["read"] }'
    )
    root.auth.userpass.create_or_update_user("alice", "correct horse", policies=["reader"])
    return root


def test_health_and_auth_listing_shapes(vault_server, root):
    health = requests.get(f"{vault_server.address}/v1/sys/health", timeout=5).json()
    assert health["initialized"] is True and health["sealed"] is False
    methods = root.sys.list_auth_methods()["data"]
    assert methods["token/"]["type"] == "token"
    assert methods["token/"]["accessor"].startswith("auth_token_")


def test_enabling_an_auth_method_twice_is_refused(root):
    root.sys.enable_auth_method("userpass")
    with pytest.raises(hvac_exc.InvalidRequest, match="path is already in use"):
        root.sys.enable_auth_method("userpass")


def test_wrong_password_and_unknown_user_get_the_same_answer(vault_server, userpass):
    answers = []
    for name, password in (("alice", "wrong password"), ("nobody", "wrong password")):
        response = requests.post(
            f"{vault_server.address}/v1/auth/userpass/login/{name}",
            json={"password": password},
            timeout=5,
        )
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1] == (400, {"errors": ["invalid username or password"]})


def test_login_gives_a_token_with_the_users_policies(vault_server, userpass):
    client = hvac.Client(url=vault_server.address)
    auth = client.auth.userpass.login("alice", "correct horse")["auth"]
    assert set(auth["policies"]) == {"default", "reader"}
    assert auth["metadata"] == {"username": "alice"}
    me = client.auth.token.lookup_self()["data"]
    assert me["path"] == "auth/userpass/login/alice"
    assert me["display_name"] == "userpass-alice"


def test_a_token_without_a_grant_gets_vaults_403_body(vault_server, userpass):
    client = hvac.Client(url=vault_server.address)
    client.auth.userpass.login("alice", "correct horse")
    response = requests.get(
        f"{vault_server.address}/v1/sys/policies/acl/reader",
        headers={"X-Vault-Token": client.token},
        timeout=5,
    )
    assert response.status_code == 403
    # A live token refused by its policies gets Vault's multierror text, not the plain one.
    assert response.json() == {"errors": ["1 error occurred:\n\t* permission denied\n\n"]}


def test_missing_and_bogus_tokens_are_refused(vault_server):
    for headers in ({}, {"X-Vault-Token": "hvs.bogus"}):
        response = requests.get(
            f"{vault_server.address}/v1/auth/token/lookup-self", headers=headers, timeout=5
        )
        assert response.status_code == 403


def test_root_protected_paths_need_sudo(vault_server, root):
    root.sys.create_or_update_acl_policy(
        "mounter", 'path "sys/auth/*" { capabilities = ["create", "update"] }'
    )
    token = root.auth.token.create(policies=["mounter"])["auth"]["client_token"]
    client = hvac.Client(url=vault_server.address, token=token)
    with pytest.raises(hvac_exc.Forbidden):
        client.sys.enable_auth_method("approle")
    root.sys.create_or_update_acl_policy(
        "mounter", 'path "sys/auth/*" { capabilities = ["create", "update", "sudo"] }'
    )
    client.sys.enable_auth_method("approle")


def test_child_tokens_cannot_gain_policies(vault_server, root):
    root.sys.create_or_update_acl_policy(
        "creator", 'path "auth/token/create" { capabilities = ["update"] }'
    )
    token = root.auth.token.create(policies=["creator"])["auth"]["client_token"]
    client = hvac.Client(url=vault_server.address, token=token)
    with pytest.raises(hvac_exc.InvalidRequest, match="subset"):
        client.auth.token.create(policies=["root"])


def test_policy_crud_and_parse_errors(root):
    root.sys.create_or_update_acl_policy("p1", 'path "a/*" { capabilities = ["read"] }')
    assert "p1" in root.sys.list_acl_policies()["data"]["keys"]
    assert 'path "a/*"' in root.sys.read_acl_policy("p1")["data"]["policy"]
    with pytest.raises(hvac_exc.InvalidRequest, match="failed to parse policy"):
        root.sys.create_or_update_acl_policy("p2", 'path "a" { capabilities = ["fly"] }')
    with pytest.raises(hvac_exc.InvalidRequest):
        root.sys.create_or_update_acl_policy("root", 'path "a" { capabilities = ["read"] }')
    root.sys.delete_acl_policy("p1")
    with pytest.raises(hvac_exc.InvalidPath):
        root.sys.read_acl_policy("p1")


def test_userpass_create_vs_update_capabilities(vault_server, root):
    root.sys.enable_auth_method("userpass")
    root.sys.create_or_update_acl_policy(
        "updater", 'path "auth/userpass/users/*" { capabilities = ["update"] }'
    )
    token = root.auth.token.create(policies=["updater"])["auth"]["client_token"]
    client = hvac.Client(url=vault_server.address, token=token)
    with pytest.raises(hvac_exc.Forbidden):  # a new user is a create
        client.auth.userpass.create_or_update_user("bob", "pw-long-enough")
    root.auth.userpass.create_or_update_user("bob", "pw-long-enough")
    client.auth.userpass.create_or_update_user("bob", "pw-changed-123")  # an update


def test_approle_login_with_role_and_secret_id(vault_server, root):
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("svc", token_policies=["default"])
    role_id = root.auth.approle.read_role_id("svc")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("svc")["data"]["secret_id"]
    client = hvac.Client(url=vault_server.address)
    auth = client.auth.approle.login(role_id, secret_id)["auth"]
    assert auth["metadata"] == {"role_name": "svc"}
    with pytest.raises(hvac_exc.InvalidRequest):
        hvac.Client(url=vault_server.address).auth.approle.login(role_id, "not-the-secret")


def test_tokens_expire_on_the_steered_clock(vault_sim):
    """Simulator: a real dev server's clock cannot be moved forward by hours."""
    root = hvac.Client(url=vault_sim.address, token=vault_sim.root_token)
    root.sys.enable_auth_method("userpass")
    root.auth.userpass.create_or_update_user(
        "alice", "correct horse", policies=["reader"], token_ttl="1h", token_max_ttl="2h"
    )
    client = hvac.Client(url=vault_sim.address)
    client.auth.userpass.login("alice", "correct horse")
    vault_sim.advance(3000)
    assert 3590 <= client.auth.token.renew_self()["auth"]["lease_duration"] <= 3600
    vault_sim.advance(3000)
    # Renewal cannot pass the max TTL: 2h after login is 1200s from now.
    assert client.auth.token.renew_self()["auth"]["lease_duration"] <= 1200
    vault_sim.advance(1300)
    with pytest.raises(hvac_exc.Forbidden):
        client.auth.token.lookup_self()


def test_revoke_prefix_revokes_one_users_logins_only(vault_server, userpass):
    userpass.auth.userpass.create_or_update_user("al", "another pass", policies=["reader"])
    alice, al = hvac.Client(url=vault_server.address), hvac.Client(url=vault_server.address)
    alice.auth.userpass.login("alice", "correct horse")
    al.auth.userpass.login("al", "another pass")
    userpass.sys.revoke_prefix("auth/userpass/login/al")
    with pytest.raises(hvac_exc.Forbidden):
        al.auth.token.lookup_self()
    assert alice.auth.token.lookup_self()["data"]["meta"] == {"username": "alice"}


def test_list_verb_and_list_query_agree(vault_server, userpass):
    headers = {"X-Vault-Token": vault_server.root_token}
    url = f"{vault_server.address}/v1/auth/userpass/users"
    by_verb = requests.request("LIST", url, headers=headers, timeout=5).json()["data"]
    by_query = requests.get(url + "?list=true", headers=headers, timeout=5).json()["data"]
    assert by_verb == by_query == {"keys": ["alice"]}
