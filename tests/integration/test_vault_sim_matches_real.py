"""The Vault simulator against a real server: one request sequence, the same answers.

The sequence below runs once against a real dev server (OpenBao, or ``vault`` when on
PATH) and once against the simulator; every step's status code must match, and so
must the keys of the body (top level, ``data`` and ``auth``). Steps marked ``exact``
compare the whole error body. It covers what mlctl relies on: malformed values (a 400
naming the field, never a dropped connection), Vault's boolean parsing, the two 403
bodies, logins, AppRole, mounts and tuning, token creation and renewal.

Not compared, on purpose: the Nomad secrets engine (OpenBao has none; the simulator
plays HashiCorp Vault there) and anything that needs the clock moved.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

PASSWORD = "correct-horse-battery"
READER = """
path "auth/token/lookup-self" { capabilities = ["read"] }
path "identity/oidc/token/*" { capabilities = ["read"] }
"""
CLAIMS = '{"username": "alice", "role": "data-scientist", "namespaces": ["team-a"]}'


@dataclass
class Step:
    method: str
    path: str
    body: dict[str, Any] | None = None
    as_: str | None = "root"  # "root", a token saved by an earlier step, or None
    save: str | None = None  # keep auth.client_token of the answer under this name
    exact: bool = False  # compare the whole body (error texts)
    pick: tuple[str, ...] = ()  # also compare these values, "data.x" / "auth.y"
    note: str = ""


def user(name: str, **fields: Any) -> dict[str, Any]:
    return {"password": PASSWORD, "token_policies": ["reader"], **fields}


SEQUENCE: list[Step] = [
    Step("POST", "sys/auth/userpass", {"type": "userpass"}),
    Step("POST", "sys/auth/userpass", {"type": "userpass"}, exact=True, note="in use"),
    Step("POST", "sys/auth/other", {}, exact=True, note="type missing"),
    Step("POST", "sys/auth/other", {"type": "nope"}, exact=True, note="unknown plugin"),
    Step("POST", "sys/auth/other", {"type": "userpass", "config": "x"}),
    Step("POST", "sys/auth/other", {"type": "userpass", "config": {"max_lease_ttl": "x"}}),
    Step("POST", "sys/auth/approle", {"type": "approle"}),
    Step("GET", "sys/auth", pick=("data.userpass/.type", "data.approle/.type")),
    Step("POST", "sys/policies/acl/reader", {"policy": READER}),
    Step("POST", "sys/policies/acl/bad", {"policy": 'path "a" { capabilities = ["fly"] }'}),
    Step("POST", "sys/policies/acl/bad", {}, exact=True, note="policy missing"),
    Step("GET", "sys/policies/acl/nope", exact=True),
    Step("GET", "sys/policies/acl/reader"),
    # --- userpass: malformed values are a 400 naming the field --------------------------
    Step("POST", "auth/userpass/users/alice", user("alice", token_ttl="forever"), exact=True),
    Step("POST", "auth/userpass/users/alice", user("alice", token_max_ttl="1x"), exact=True),
    Step("POST", "auth/userpass/users/alice", user("alice", token_ttl=-5), exact=True),
    Step("POST", "auth/userpass/users/alice", user("alice", token_ttl=3.5), exact=True),
    Step(
        "POST",
        "auth/userpass/users/alice",
        user("alice", token_no_default_policy="maybe"),
        exact=True,
    ),
    Step("GET", "auth/userpass/users/alice", note="nothing was half-written"),
    # --- Vault's booleans: the string "false" is false ----------------------------------
    Step("POST", "auth/userpass/users/alice", user("alice", token_no_default_policy="false")),
    Step("POST", "auth/userpass/users/bob", user("bob", token_no_default_policy="true")),
    Step(
        "GET",
        "auth/userpass/users/alice",
        pick=("data.token_no_default_policy", "data.token_policies", "data.token_ttl"),
    ),
    Step("POST", "auth/userpass/users/alice", {"token_ttl": "1h", "token_max_ttl": 7200}),
    Step("GET", "auth/userpass/users/alice", pick=("data.token_ttl", "data.token_max_ttl")),
    Step("LIST", "auth/userpass/users", pick=("data.keys",)),
    # --- logins --------------------------------------------------------------------------
    Step("POST", "auth/userpass/login/alice", {"password": "wrong"}, as_=None, exact=True),
    Step("POST", "auth/userpass/login/nobody", {"password": "wrong"}, as_=None, exact=True),
    Step(
        "POST",
        "auth/userpass/login/alice",
        {"password": PASSWORD},
        as_=None,
        save="alice",
        pick=("auth.policies", "auth.metadata", "auth.lease_duration", "auth.renewable"),
    ),
    Step(
        "POST",
        "auth/userpass/login/bob",
        {"password": PASSWORD},
        as_=None,
        save="bob",
        pick=("auth.policies",),
        note="token_no_default_policy=true: no default policy",
    ),
    Step("GET", "auth/token/lookup-self", as_="alice", pick=("data.path", "data.display_name")),
    Step("GET", "sys/policies/acl/reader", as_="alice", exact=True, note="policy denial"),
    Step("GET", "auth/token/lookup-self", as_="bogus", exact=True, note="unknown token"),
    Step("GET", "auth/token/lookup-self", as_=None, exact=True, note="no token"),
    Step("POST", "auth/token/renew-self", {"increment": "abc"}, as_="alice", exact=True),
    Step("POST", "auth/token/renew-self", {"increment": "30m"}, as_="alice"),
    # --- AppRole -------------------------------------------------------------------------
    Step("POST", "auth/approle/role/svc", {"secret_id_num_uses": "abc"}, exact=True),
    Step("POST", "auth/approle/role/svc", {"token_ttl": "forever"}, exact=True),
    Step("POST", "auth/approle/role/svc", {"bind_secret_id": "false"}, exact=True),
    Step("GET", "auth/approle/role/svc", note="nothing was written"),
    Step("LIST", "auth/approle/role"),
    Step(
        "POST",
        "auth/approle/role/svc",
        {"token_policies": "reader", "bind_secret_id": "true", "secret_id_num_uses": "2"},
    ),
    Step(
        "GET",
        "auth/approle/role/svc",
        pick=("data.token_policies", "data.bind_secret_id", "data.secret_id_num_uses"),
    ),
    Step("POST", "auth/approle/role/svc/secret-id", {"ttl": "nope"}, exact=True),
    Step("POST", "auth/approle/role/nope/secret-id", {}, exact=True),
    Step("GET", "auth/approle/role/svc/role-id"),
    Step("POST", "auth/approle/login", {"role_id": "x", "secret_id": "y"}, as_=None, exact=True),
    # --- secrets engines and tuning ---------------------------------------------------------
    Step("POST", "sys/mounts/kv2", {"type": "kv", "config": {"default_lease_ttl": "forever"}}),
    Step("POST", "sys/mounts/kv2", {"type": "kv", "config": "x"}),
    Step("POST", "sys/mounts/kv", {"type": "kv"}),
    Step("POST", "sys/mounts/kv/tune", {"default_lease_ttl": "forever"}, exact=True),
    Step("POST", "sys/mounts/kv/tune", {"max_lease_ttl": "2h", "default_lease_ttl": 600}),
    Step("GET", "sys/mounts/kv/tune", pick=("data.default_lease_ttl", "data.max_lease_ttl")),
    Step("POST", "sys/mounts/nomad-x", {"type": "no-such-engine"}, exact=True),
    # --- tokens and leases ---------------------------------------------------------------
    Step("POST", "auth/token/create", {"ttl": "forever"}, exact=True),
    Step("POST", "auth/token/create", {"meta": "x"}, exact=True),
    Step("POST", "auth/token/create", {"renewable": "maybe"}, exact=True),
    Step("POST", "auth/token/create", {"no_parent": "abc"}, exact=True),
    Step(
        "POST",
        "auth/token/create",
        {"policies": ["reader"], "ttl": "1h", "renewable": "false", "meta": {"a": "b"}},
        pick=("auth.policies", "auth.renewable", "auth.lease_duration", "auth.metadata"),
    ),
    Step("POST", "sys/leases/renew", {"lease_id": "x", "increment": "abc"}, exact=True),
    Step("POST", "auth/token/lookup", {"token": "nope"}, exact=True),
    Step("POST", "sys/leases/revoke-prefix/auth/userpass/login/zzz"),
    Step("GET", "no/such/path", exact=True),
    # --- identity tokens (OIDC keys, roles, signed tokens, public keys) ---------------------
    Step("POST", "identity/oidc/key/mlctl", {"rotation_period": "x"}, exact=True),
    Step("POST", "identity/oidc/key/mlctl", {"algorithm": "HS256"}, exact=True),
    Step("POST", "identity/oidc/key/mlctl", {"allowed_client_ids": ["mlctl-nomad"]}),
    Step(
        "GET",
        "identity/oidc/key/mlctl",
        pick=("data.algorithm", "data.allowed_client_ids", "data.verification_ttl"),
    ),
    Step("POST", "identity/oidc/role/r", {"template": "{}"}, exact=True, note="key missing"),
    Step("POST", "identity/oidc/role/r", {"key": "nope"}, exact=True),
    Step("POST", "identity/oidc/role/r", {"key": "mlctl", "template": "{not json"}),
    Step("POST", "identity/oidc/role/r", {"key": "mlctl", "template": '{"sub": "x"}'}, exact=True),
    Step("POST", "identity/oidc/role/r", {"key": "mlctl", "ttl": "48h"}, exact=True),
    Step("POST", "identity/oidc/role/r", {"key": "mlctl", "ttl": "forever"}, exact=True),
    Step(
        "POST",
        "identity/oidc/role/alice",
        {"key": "mlctl", "client_id": "mlctl-nomad", "ttl": "5m", "template": CLAIMS},
    ),
    Step("POST", "identity/oidc/role/other", {"key": "mlctl", "client_id": "other"}),
    Step("GET", "identity/oidc/role/alice", pick=("data.client_id", "data.template", "data.ttl")),
    Step("LIST", "identity/oidc/role", pick=("data.keys",)),
    Step("GET", "identity/oidc/token/alice", exact=True, note="root has no entity"),
    Step(
        "GET",
        "identity/oidc/token/alice",
        as_="alice",
        pick=(
            "data.client_id",
            "data.ttl",
            "claims",
            "claims.aud",
            "claims.namespaces",
            "claims.role",
            "claims.username",
            "claims.namespace",
        ),
    ),
    Step("GET", "identity/oidc/token/other", as_="alice", exact=True, note="client not allowed"),
    Step("GET", "identity/oidc/token/nope", as_="alice", exact=True),
    Step("GET", "identity/oidc/.well-known/keys", as_=None),
    Step("GET", "identity/oidc/.well-known/openid-configuration", as_=None, pick=("jwks_tail",)),
    Step("DELETE", "identity/oidc/key/mlctl", exact=True, note="still used by roles"),
]


@dataclass
class Answer:
    status: int
    body: Any
    keys: dict[str, list[str]] = field(default_factory=dict)


def _claims(body: Any) -> dict[str, Any]:
    token = body["data"]["token"]
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _dig(body: Any, dotted: str) -> Any:
    if dotted == "claims":  # the claim names of the signed identity token
        return sorted(_claims(body))
    if dotted.startswith("claims."):
        return _claims(body).get(dotted[len("claims.") :])
    if dotted == "jwks_tail":  # the JWKS URL is the issuer's, under /.well-known/keys
        return body["jwks_uri"].removeprefix(body["issuer"])
    head, _, rest = dotted.partition(".")
    value = body.get(head) if isinstance(body, dict) else None
    if not rest:
        return value
    # mount paths contain dots and slashes: match the longest known key first
    if isinstance(value, dict):
        for key in sorted(value, key=len, reverse=True):
            if rest == key or rest.startswith(key + "."):
                return value[key] if rest == key else _dig({key: value[key]}, rest)
    return None


def run_sequence(address: str, root_token: str) -> list[Answer]:
    tokens = {"root": root_token, "bogus": "s.not-a-real-token-at-all"}
    answers = []
    with requests.Session() as session:
        for step in SEQUENCE:
            headers = {"X-Vault-Token": tokens[step.as_]} if step.as_ else {}
            response = session.request(
                step.method,
                f"{address}/v1/{step.path}",
                json=step.body,
                headers=headers,
                timeout=30,
            )
            body = response.json() if response.content else None
            answer = Answer(response.status_code, body)
            if isinstance(body, dict):
                answer.keys["."] = sorted(body)
                for part in ("data", "auth"):
                    if isinstance(body.get(part), dict):
                        answer.keys[part] = sorted(body[part])
            if step.save and isinstance(body, dict) and body.get("auth"):
                tokens[step.save] = body["auth"]["client_token"]
            answers.append(answer)
    return answers


def _differences(real: list[Answer], sim: list[Answer]) -> list[str]:
    found = []
    for number, (step, ours, theirs) in enumerate(zip(SEQUENCE, sim, real, strict=True)):
        where = f"step {number} {step.method} {step.path} {step.note}".strip()
        if ours.status != theirs.status:
            found.append(f"{where}: status {ours.status} (real {theirs.status}) {ours.body}")
            continue
        if ours.keys != theirs.keys:
            found.append(f"{where}: keys {ours.keys} (real {theirs.keys})")
        if step.exact and ours.body != theirs.body:
            found.append(f"{where}: body {ours.body} (real {theirs.body})")
        for dotted in step.pick:
            mine, real_value = _dig(ours.body, dotted), _dig(theirs.body, dotted)
            if isinstance(mine, list) and isinstance(real_value, list):
                mine, real_value = sorted(mine), sorted(real_value)
            if mine != real_value:
                found.append(f"{where}: {dotted} = {mine!r} (real {real_value!r})")
    return found


def test_the_simulator_answers_like_the_real_server(vault_server, vault_sim):
    real = run_sequence(vault_server.address, vault_server.root_token)
    sim = run_sequence(vault_sim.address, vault_sim.root_token)
    assert _differences(real, sim) == []


def test_the_comparison_catches_a_difference(vault_sim):
    """The checker itself: a changed status, key or picked value is reported."""
    answers = run_sequence(vault_sim.address, vault_sim.root_token)
    changed = [Answer(a.status, a.body, dict(a.keys)) for a in answers]
    changed[0].status = 500
    changed[-1].keys["."] = ["surprise"]
    assert len(_differences(answers, changed)) == 2


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("nomad/config/lease", {"ttl": "forever"}, "ttl"),
        ("nomad/config/lease", {"max_ttl": "1y"}, "max_ttl"),
        ("nomad/config/access", {"max_token_name_length": "abc"}, "max_token_name_length"),
        ("nomad/role/r", {"policies": "p", "global": "maybe"}, "global"),
    ],
)
def test_the_nomad_engine_names_a_bad_field(vault_sim, path, body, field):
    """Simulator only: OpenBao has no Nomad secrets engine to compare with."""
    headers = {"X-Vault-Token": vault_sim.root_token}
    mounted = requests.post(
        f"{vault_sim.address}/v1/sys/mounts/nomad", json={"type": "nomad"}, headers=headers
    )
    assert mounted.status_code == 204
    answer = requests.post(f"{vault_sim.address}/v1/{path}", json=body, headers=headers)
    assert answer.status_code == 400
    assert f'field "{field}"' in answer.json()["errors"][0]
