"""The Nomad engine's ACL roles, auth methods, binding rules and JWT login.

A small JWKS server on loopback plays the issuer; tokens are signed with joserfc.
Every check of the JWT (signature, algorithm, exp, nbf, issuer, audience) is shown
failing once with the login's 401, and the token a login returns is used for real.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.simulators.nomad.fixtures import NomadHandle, SimFactory, require_sim

ISSUER = "http://127.0.0.1/v1/identity/oidc"
AUDIENCE = "mlctl-nomad"
DS_POLICY = 'namespace "team-a" { policy = "write" }\nnode { policy = "read" }'
VIEW_POLICY = 'namespace "*" { policy = "read" }'


class Issuer:
    """An RSA key served as a JWKS on loopback; signs tokens with it."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.hits = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.hits += 1
                body = json.dumps(KeySet([issuer.key]).as_dict(private=False)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/keys"

    def sign(self, key: RSAKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "entity-1", "iat": now, "exp": now + 300}
        body.update(claims)
        for name in [k for k, v in body.items() if v is None]:
            del body[name]
        return jwt.encode({"alg": "RS256", "kid": "k1"}, body, key or self.key)


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    served = Issuer()
    yield served
    served.server.shutdown()
    served.server.server_close()


def call(handle: NomadHandle, method: str, path: str, body: Any = None, token: Any = "mgmt"):
    headers = {}
    if token == "mgmt":
        token = handle.management_token
    if token:
        headers["X-Nomad-Token"] = token
    return requests.request(
        method, f"{handle.address}/v1/{path}", json=body, headers=headers, timeout=30
    )


def ok(response: requests.Response) -> Any:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json() if response.content else None


@pytest.fixture
def cluster(nomad_sim_factory: SimFactory, issuer: Issuer) -> NomadHandle:
    handle = nomad_sim_factory(acl=True)
    ok(call(handle, "POST", "namespace/team-a", {"Name": "team-a"}))
    for name, rules in (("ds-team-a", DS_POLICY), ("viewer", VIEW_POLICY)):
        ok(call(handle, "POST", f"acl/policy/{name}", {"Name": name, "Rules": rules}))
    ok(call(handle, "POST", "acl/role", {"Name": "viewers", "Policies": [{"Name": "viewer"}]}))
    method = {
        "Name": "vault",
        "Type": "JWT",
        "TokenLocality": "global",
        "TokenNameFormat": "mlctl-${value.username}",
        "MaxTokenTTL": "1h",
        "Config": {
            "JWKSURL": issuer.jwks_url,
            "BoundIssuer": [ISSUER],
            "BoundAudiences": [AUDIENCE],
            "ClaimMappings": {"username": "username", "role": "role"},
            "ListClaimMappings": {"namespaces": "namespaces"},
        },
    }
    ok(call(handle, "POST", "acl/auth-method", method))
    rules = [
        ('value.role == "admin"', "management", ""),
        ('value.role == "viewer"', "role", "viewers"),
        ('value.role == "data-scientist" and "team-a" in list.namespaces', "policy", "ds-team-a"),
    ]
    for selector, bind_type, bind_name in rules:
        body = {"AuthMethod": "vault", "Selector": selector, "BindType": bind_type}
        if bind_name:
            body["BindName"] = bind_name
        ok(call(handle, "POST", "acl/binding-rule", body))
    return handle


def login(handle: NomadHandle, token: str) -> requests.Response:
    body = {"AuthMethodName": "vault", "LoginToken": token}
    return call(handle, "POST", "acl/login", body, token=None)


def test_a_data_scientist_logs_in_with_a_jwt(cluster, issuer):
    answer = login(
        cluster, issuer.sign(username="alice", role="data-scientist", namespaces=["team-a"])
    )
    token = ok(answer)
    assert token["Type"] == "client" and token["Policies"] == ["ds-team-a"]
    assert token["Name"] == "mlctl-alice" and token["Global"] is True
    assert token["ExpirationTTL"] == 3600 * 10**9  # MaxTokenTTL, in nanoseconds
    assert token["ExpirationTime"] and token["SecretID"]
    ok(call(cluster, "GET", "jobs?namespace=team-a", token=token["SecretID"]))
    assert (
        call(cluster, "GET", "jobs?namespace=default", token=token["SecretID"]).status_code == 403
    )
    assert issuer.hits >= 1  # the keys were fetched from the JWKS URL


def test_a_role_binding_gives_the_roles_policies(cluster, issuer):
    token = ok(login(cluster, issuer.sign(username="victor", role="viewer")))
    assert token["Policies"] in (None, []) and [r["Name"] for r in token["Roles"]] == ["viewers"]
    ok(call(cluster, "GET", "jobs?namespace=team-a", token=token["SecretID"]))
    me = ok(call(cluster, "GET", "acl/token/self", token=token["SecretID"]))
    assert me["Roles"] == token["Roles"]
    role_id = token["Roles"][0]["ID"]
    assert (
        ok(call(cluster, "GET", f"acl/role/{role_id}", token=token["SecretID"]))["Name"]
        == "viewers"
    )
    # Deleting the role takes its policies away from tokens that carry it.
    ok(call(cluster, "DELETE", f"acl/role/{role_id}"))
    assert call(cluster, "GET", "jobs?namespace=team-a", token=token["SecretID"]).status_code == 403


def test_a_management_binding_gives_a_management_token(cluster, issuer):
    token = ok(login(cluster, issuer.sign(username="ada", role="admin")))
    assert token["Type"] == "management" and not token["Policies"]
    ok(call(cluster, "GET", "acl/tokens", token=token["SecretID"]))


def test_no_matching_rule_is_refused(cluster, issuer):
    answer = login(cluster, issuer.sign(username="eve", role="data-scientist", namespaces=["x"]))
    assert answer.status_code == 400 and answer.text == "no role or policy bindings matched"


def _tamper(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


def _alg_none(token: str) -> str:
    head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{head}.{token.split('.')[1]}."


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: i.sign(username="a", role="admin", exp=int(time.time()) - 3600), "expired"),
        (lambda i: i.sign(username="a", role="admin", nbf=int(time.time()) + 3600), "not valid"),
        (lambda i: i.sign(username="a", role="admin", aud="someone-else"), "audience"),
        (lambda i: i.sign(username="a", role="admin", iss="https://evil.example"), "issuer"),
        (lambda i: i.sign(username="a", role="admin", exp=None), "exp"),
        (
            lambda i: i.sign(RSAKey.generate_key(2048, parameters={"kid": "k1"}), role="admin"),
            "signature",
        ),
        (lambda i: _tamper(i.sign(username="a", role="viewer")), "signature"),
        (lambda i: _alg_none(i.sign(username="a", role="admin")), "signature"),
        (lambda i: "not.a.jwt", "signature"),
    ],
    ids=[
        "expired",
        "not-yet",
        "audience",
        "issuer",
        "no-exp",
        "other-key",
        "tampered",
        "alg-none",
        "garbage",
    ],
)
def test_a_bad_jwt_is_a_401(cluster, issuer, make, reason):
    answer = login(cluster, make(issuer))
    assert answer.status_code == 401, answer.text
    assert answer.text.startswith("unable to validate provided token: ")
    assert reason in answer.text


def test_an_unreachable_jwks_is_a_401(cluster, issuer):
    token = issuer.sign(username="a", role="admin")
    issuer.server.shutdown()
    issuer.server.server_close()
    answer = login(cluster, token)
    assert answer.status_code == 401 and "failed to fetch" in answer.text


def test_login_request_errors(cluster, issuer):
    missing = call(cluster, "POST", "acl/login", {"AuthMethodName": "vault"}, token=None)
    assert missing.status_code == 400 and "missing login token" in missing.text
    unknown = call(
        cluster, "POST", "acl/login", {"AuthMethodName": "nope", "LoginToken": "x"}, token=None
    )
    assert unknown.status_code == 400 and unknown.text == 'auth-method "nope" not found'


def test_a_login_token_expires_after_max_token_ttl(cluster, issuer):
    sim = require_sim(cluster)
    token = ok(login(cluster, issuer.sign(username="victor", role="viewer")))
    ok(call(cluster, "GET", "acl/token/self", token=token["SecretID"]))
    sim.advance(3601)
    expired = call(cluster, "GET", "jobs?namespace=team-a", token=token["SecretID"])
    assert expired.status_code == 403 and "expired" in expired.text


def test_auth_method_shapes_and_validation(cluster, issuer):
    listed = ok(call(cluster, "GET", "acl/auth-methods", token=None))
    assert listed == [
        {
            "Name": "vault",
            "Type": "JWT",
            "Default": False,
            "Hash": None,
            "CreateIndex": listed[0]["CreateIndex"],
            "ModifyIndex": listed[0]["ModifyIndex"],
        }
    ]
    method = ok(call(cluster, "GET", "acl/auth-method/vault"))
    assert method["MaxTokenTTL"] == "1h0m0s" and method["Config"]["JWKSURL"] == issuer.jwks_url
    assert {"CreateTime", "ModifyTime", "TokenNameFormat", "TokenLocality"} <= set(method)
    bad = {
        "Name": "bad",
        "Type": "LDAP",
        "TokenLocality": "nowhere",
        "MaxTokenTTL": "48h",
        "Config": {"JWKSURL": issuer.jwks_url},
    }
    refused = call(cluster, "POST", "acl/auth-method", bad)
    assert refused.status_code == 400
    for problem in (
        "invalid token locality 'nowhere'",
        "invalid token type 'LDAP'",
        "invalid MaxTokenTTL value '48h0m0s'",
    ):
        assert problem in refused.text
    updated = ok(call(cluster, "POST", "acl/auth-method/vault", {"MaxTokenTTL": "2h"}))
    assert updated["MaxTokenTTL"] == "2h0m0s" and updated["Config"]["JWKSURL"]
    assert call(cluster, "POST", "acl/auth-method", bad, token=None).status_code == 403


def test_binding_rule_validation_and_crud(cluster):
    rules = ok(call(cluster, "GET", "acl/binding-rules"))
    assert len(rules) == 3 and set(rules[0]) == {
        "ID",
        "Description",
        "AuthMethod",
        "Hash",
        "CreateIndex",
        "ModifyIndex",
    }
    for body, problem in (
        (
            {
                "AuthMethod": "vault",
                "BindType": "policy",
                "BindName": "x",
                "Selector": "value.role ==",
            },
            "selector is invalid",
        ),
        (
            {"AuthMethod": "vault", "BindType": "management", "BindName": "x"},
            "bind name should be empty",
        ),
        ({"AuthMethod": "vault", "BindType": "token", "BindName": "x"}, "unsupported bind type"),
        ({"AuthMethod": "nope", "BindType": "policy", "BindName": "x"}, "not found"),
    ):
        refused = call(cluster, "POST", "acl/binding-rule", body)
        assert refused.status_code == 400 and problem in refused.text, refused.text
    rule_id = rules[0]["ID"]
    changed = ok(call(cluster, "POST", f"acl/binding-rule/{rule_id}", {"Description": "admins"}))
    assert changed["Description"] == "admins" and changed["BindType"] == "management"
    ok(call(cluster, "DELETE", f"acl/binding-rule/{rule_id}"))
    assert call(cluster, "GET", f"acl/binding-rule/{rule_id}").status_code == 404
    # Deleting the auth method deletes its rules.
    ok(call(cluster, "DELETE", "acl/auth-method/vault"))
    assert ok(call(cluster, "GET", "acl/binding-rules")) == []


def test_role_crud_and_access(cluster, issuer):
    created = ok(
        call(
            cluster,
            "POST",
            "acl/role",
            {"Name": "team-a-devs", "Description": "d", "Policies": [{"Name": "ds-team-a"}]},
        )
    )
    assert set(created) >= {"ID", "Name", "Description", "Policies", "CreateIndex", "ModifyIndex"}
    by_name = ok(call(cluster, "GET", "acl/role/name/team-a-devs"))
    assert by_name == ok(call(cluster, "GET", f"acl/role/{created['ID']}"))
    missing = call(cluster, "POST", "acl/role", {"Name": "r2", "Policies": [{"Name": "nope"}]})
    assert missing.status_code == 400 and "cannot find policy nope" in missing.text
    renamed = ok(
        call(
            cluster,
            "POST",
            f"acl/role/{created['ID']}",
            {"ID": created["ID"], "Name": "team-a-devs", "Policies": [{"Name": "viewer"}]},
        )
    )
    assert renamed["Policies"] == [{"Name": "viewer"}]
    # A token without the role cannot read it; listing shows only the token's own roles.
    viewer = ok(login(cluster, issuer.sign(username="v", role="viewer")))
    assert (
        call(cluster, "GET", f"acl/role/{created['ID']}", token=viewer["SecretID"]).status_code
        == 403
    )
    own = ok(call(cluster, "GET", "acl/roles", token=viewer["SecretID"]))
    assert [r["Name"] for r in own] == ["viewers"]
    # Tokens may carry roles when created directly, too.
    direct = ok(
        call(cluster, "POST", "acl/token", {"Type": "client", "Roles": [{"Name": "team-a-devs"}]})
    )
    assert direct["Roles"] == [{"ID": created["ID"], "Name": "team-a-devs"}]
