"""The model server's bearer-token checks (issue 15), with a local issuer.

The app runs in-process (Starlette's TestClient); tokens are signed by an RSA key of the
test's own whose key set a loopback HTTP server publishes (tests/jwt_issuer.py), so the
tests can forge what Vault never would. The same checks against tokens from a real
OpenBao server are in tests/integration/test_model_access.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from mlctl.bundle.schema import AuthMode, ServingAuth
from mlctl.errors import ConfigError
from mlctl.serve import auth, jwks
from mlctl.serve.app import make_app
from mlctl.serve.auth import Access, AuthSettings, Verifier
from mlctl.serve.http import EventLog
from mlctl.serve.jwks import KeySource
from mlctl.serve.options import ServeOptions
from tests.jwt_issuer import ISSUER, LocalIssuer, serving_issuer

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris"
BODY = {"features": [[5.1, 3.5, 1.4, 0.2]]}
OIP = {
    "inputs": [
        {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": BODY["features"][0]}
    ]
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.02)


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with serving_issuer() as served:
        yield served


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


def start(issuer: LocalIssuer, log: io.StringIO, **options: object) -> TestClient:
    settings: dict[str, object] = {
        "bundle_dir": IRIS,
        "auth_mode": AuthMode.JWT,
        "auth_issuer": ISSUER,
        "auth_jwks_url": issuer.jwks_url,
        **options,
    }
    app = make_app(ServeOptions(**settings), log=EventLog(log))  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(issuer: LocalIssuer, log: io.StringIO) -> Iterator[TestClient]:
    with start(issuer, log) as test_client:
        wait_ready(test_client)
        yield test_client


# --------------------------------------------------------------------------- who may call


def test_a_granted_token_is_answered_and_its_caller_logged(client, issuer, log):
    token = issuer.token(models=["default/iris"])
    answer = client.post("/predict", json=BODY, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": ["setosa"]}
    client.get("/healthz")  # flushes nothing by itself; the log is written on a timer
    deadline = time.monotonic() + 10
    while '"caller"' not in log.getvalue():
        assert time.monotonic() < deadline
        client.get("/healthz")
        time.sleep(0.06)
    line = next(json.loads(x) for x in log.getvalue().splitlines() if '"/predict"' in x)
    assert line["sub"] == "entity-1234" and line["caller"] == "user:alice"
    assert token not in log.getvalue()
    assert token.split(".")[2] not in log.getvalue()


def test_no_header_is_401_with_a_bearer_challenge(client):
    answer = client.post("/predict", json=BODY)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="mlctl"'
    assert "bearer token" in answer.json()["error"]


def test_a_token_for_another_model_is_403(client, issuer):
    answer = client.post(
        "/predict", json=BODY, headers=bearer(issuer.token(models=["default/churn"]))
    )
    assert answer.status_code == 403
    assert "insufficient_scope" in answer.headers["www-authenticate"]
    assert answer.json() == {"error": "this token does not grant access to this model"}


def test_the_model_is_granted_per_namespace(issuer, log):
    with start(issuer, log, auth_namespace="team-a") as client:
        wait_ready(client)
        same_name_elsewhere = issuer.token(models=["default/iris", "team-b/iris"])
        assert (
            client.post("/predict", json=BODY, headers=bearer(same_name_elsewhere)).status_code
            == 403
        )
        granted = issuer.token(models=["team-a/iris"])
        assert client.post("/predict", json=BODY, headers=bearer(granted)).status_code == 200
        whole_namespace = issuer.token(models=[], namespaces=["team-a"])
        assert (
            client.post("/predict", json=BODY, headers=bearer(whole_namespace)).status_code == 200
        )
        everywhere = issuer.token(models=[], namespaces=["*"])
        assert client.post("/predict", json=BODY, headers=bearer(everywhere)).status_code == 200
        other_namespace = issuer.token(models=[], namespaces=["team-b"])
        assert (
            client.post("/predict", json=BODY, headers=bearer(other_namespace)).status_code == 403
        )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/predict", BODY),
        ("POST", "/preprocess", BODY),
        ("POST", "/postprocess", {"predictions": [0]}),
        ("POST", "/v2/models/iris/infer", OIP),
        ("POST", "/v2/models/iris/versions/1.0.0/infer", OIP),
        ("GET", "/v2/models/iris", None),
        ("GET", "/v2/models/iris/versions/1.0.0", None),
    ],
)
def test_every_model_route_needs_a_token(client, issuer, method, path, body):
    assert client.request(method, path, json=body).status_code == 401
    answer = client.request(method, path, json=body, headers=bearer(issuer.token()))
    assert answer.status_code == 200, answer.text


def test_an_unknown_model_name_is_checked_after_the_token(client, issuer):
    """An anonymous caller learns nothing, not even which model names exist."""
    assert client.post("/v2/models/churn/infer", json=OIP).status_code == 401
    answer = client.post("/v2/models/churn/infer", json=OIP, headers=bearer(issuer.token()))
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "path", ["/healthz", "/healthCheck", "/readyz", "/v2/health/live", "/v2/health/ready",
             "/v2/models/iris/ready", "/v2", "/v2/openapi.json", "/metrics"]
)  # fmt: skip
def test_health_readiness_and_metrics_stay_open(client, path):
    assert client.get(path).status_code == 200


def test_metrics_can_require_the_metrics_claim(tmp_path, issuer, log):
    bundle = tmp_path / "iris"
    import shutil

    import yaml

    shutil.copytree(IRIS, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((bundle / "mlctl.yaml").read_text())
    config["serving"]["auth"] = {"metrics": "token"}
    (bundle / "mlctl.yaml").write_text(yaml.safe_dump(config))
    with start(issuer, log, bundle_dir=bundle) as client:
        wait_ready(client)
        assert client.get("/metrics").status_code == 401
        caller = issuer.token(models=["default/iris"])
        assert client.get("/metrics", headers=bearer(caller)).status_code == 403
        scraper = issuer.token(models=[], metrics=["default"])
        assert client.get("/metrics", headers=bearer(scraper)).status_code == 200
        assert client.post("/predict", json=BODY, headers=bearer(scraper)).status_code == 403


# --------------------------------------------------------------------------- what is refused


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["mlctl_models"] = ["default/iris", "default/churn"]
    return f"{header}.{_b64(claims)}.{signature}"


def _alg_none(issuer: LocalIssuer) -> str:
    claims = json.loads(base64.urlsafe_b64decode(issuer.token().split(".")[1] + "=="))
    return f"{_b64({'alg': 'none', 'kid': 'k1'})}.{_b64(claims)}."


def _hmac_with_public_key(issuer: LocalIssuer) -> str:
    """The classic confusion: HS256 keyed with the published RSA public key.

    Signed by hand: JOSE libraries (joserfc >= 1.8) refuse to build such a key at all."""
    public_pem = issuer.key.as_pem(private=False)
    claims = json.loads(base64.urlsafe_b64decode(issuer.token().split(".")[1] + "=="))
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'k1'})}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


FORGERIES = {
    "expired": lambda i: i.token(ttl=-120),
    "not yet valid": lambda i: i.token(nbf=int(time.time()) + 600),
    "issued in the future": lambda i: i.token(iat=int(time.time()) + 600),
    "another issuer": lambda i: i.token(iss="http://evil.test/v1/identity/oidc"),
    "another audience": lambda i: i.token(aud="mlctl-nomad"),
    "no audience": lambda i: i.token(aud=None),
    "no subject": lambda i: i.token(sub=None),
    "no expiry": lambda i: i.token(exp=None),
    "exp not a number": lambda i: i.token(exp="tomorrow"),
    "another key, same kid": lambda i: i.token(key=RSAKey.generate_key(2048, {"kid": "k1"})),
    "another key, unknown kid": lambda i: i.token(key=RSAKey.generate_key(2048, {"kid": "k9"})),
    "no kid": lambda i: jwt.encode({"alg": "RS256"}, {"sub": "x"}, i.key),
    "alg none": _alg_none,
    "HS256 with the public key": _hmac_with_public_key,
    "tampered payload": lambda i: _tampered(i.token()),
    "signature cut": lambda i: i.token().rsplit(".", 1)[0] + ".",
    "not a JWT": lambda i: "hello",
    "five parts (JWE)": lambda i: "a.b.c.d.e",
}


@pytest.mark.parametrize("kind", list(FORGERIES))
def test_invalid_tokens_are_401_and_say_nothing_more(client, issuer, kind):
    answer = client.post("/predict", json=BODY, headers=bearer(FORGERIES[kind](issuer)))
    assert answer.status_code == 401, (kind, answer.text)
    assert answer.json() == {"error": "the bearer token is not valid"}
    assert answer.headers["www-authenticate"] == 'Bearer realm="mlctl", error="invalid_token"'


@pytest.mark.parametrize(
    "value", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc.def.ghi", "abc.def.ghi"]
)
def test_other_schemes_count_as_no_token(client, value):
    answer = client.post("/predict", json=BODY, headers={"Authorization": value})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="mlctl"'


def test_the_scheme_is_case_insensitive(client, issuer):
    headers = {"Authorization": f"bearer {issuer.token()}"}
    assert client.post("/predict", json=BODY, headers=headers).status_code == 200


def test_a_token_over_the_size_limit_is_refused_unparsed(client, issuer):
    huge = issuer.token(padding="x" * auth.MAX_TOKEN_CHARS)
    assert client.post("/predict", json=BODY, headers=bearer(huge)).status_code == 401


# --------------------------------------------------------------------------- keys


def test_unknown_kids_refresh_the_keys_at_a_bounded_rate(client, issuer):
    before = issuer.fetches
    for n in range(20):
        forged = issuer.token(key=RSAKey.generate_key(2048, {"kid": f"forged-{n}"}))
        assert client.post("/predict", json=BODY, headers=bearer(forged)).status_code == 401
    # The first fetch was less than MIN_REFRESH_SECONDS ago: none of these fetched.
    assert issuer.fetches - before <= 1


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def verifier(issuer: LocalIssuer, clock: Clock, **settings: object) -> Verifier:
    config = AuthSettings(
        mode=AuthMode.JWT,
        issuer=ISSUER,
        jwks_url=issuer.jwks_url,
        leeway_s=0,
        **settings,  # type: ignore[arg-type]
    )
    return Verifier(config, "iris", KeySource(issuer.jwks_url, clock=clock), clock=clock)


def test_a_rotated_key_is_fetched_when_first_seen_and_no_sooner(issuer):
    clock = Clock()
    check = verifier(issuer, clock)

    async def scenario() -> None:
        assert await check.keys.refresh(force=True)
        rotated = RSAKey.generate_key(2048, {"kid": "k2"})
        token = issuer.token(key=rotated)
        issuer.published = [issuer.key, rotated]  # Vault publishes the new key
        # Too soon after the last fetch: refused without asking again.
        with pytest.raises(auth.Unauthorized):
            await check.check(f"Bearer {token}", Access.MODEL)
        assert issuer.fetches == 1
        clock.now += jwks.MIN_REFRESH_SECONDS
        caller = await check.check(f"Bearer {token}", Access.MODEL)
        assert caller.subject == "entity-1234" and issuer.fetches == 2

    run(scenario())


def test_a_failed_fetch_keeps_the_keys_held(issuer):
    clock = Clock()
    errors: list[str] = []
    check = verifier(issuer, clock)
    check.keys = KeySource(issuer.jwks_url, clock=clock, on_error=errors.append)

    async def scenario() -> None:
        assert await check.keys.refresh(force=True)
        issuer.status = 500
        assert not await check.keys.refresh(force=True)
        assert errors and "HTTP 500" in errors[0] and issuer.jwks_url in errors[0]
        assert (await check.check(f"Bearer {issuer.token()}", Access.MODEL)).name == "user:alice"

    run(scenario())


def test_a_verified_token_is_cached_until_it_expires(issuer):
    clock = Clock()
    check = verifier(issuer, clock)
    token = issuer.token(ttl=60)

    async def scenario() -> None:
        await check.keys.refresh(force=True)
        await check.check(f"Bearer {token}", Access.MODEL)
        issuer.published = []  # the cache answers: no signature is checked again
        await check.check(f"Bearer {token}", Access.MODEL)
        clock.now += 61
        with pytest.raises(auth.Unauthorized):
            await check.check(f"Bearer {token}", Access.MODEL)

    run(scenario())


def test_the_cache_is_bounded(issuer, monkeypatch):
    monkeypatch.setattr(auth, "MAX_CACHED_TOKENS", 5)
    clock = Clock()
    check = verifier(issuer, clock)

    async def scenario() -> None:
        await check.keys.refresh(force=True)
        for n in range(12):
            await check.check(f"Bearer {issuer.token(jti=str(n))}", Access.MODEL)
        assert len(check._cache) <= 5

    run(scenario())


def test_readiness_waits_for_the_keys(issuer, log, monkeypatch):
    monkeypatch.setattr(jwks, "FIRST_FETCH_BACKOFF", (0.05,))
    issuer.status = 503
    with start(issuer, log) as client:
        deadline = time.monotonic() + 30
        while "token keys" not in client.get("/readyz").text:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert client.get("/readyz").status_code == 503
        answer = client.post("/predict", json=BODY, headers=bearer(issuer.token()))
        assert answer.status_code == 503
        issuer.status = 200
        wait_ready(client)
        assert client.post("/predict", json=BODY, headers=bearer(issuer.token())).status_code == 200
    assert "could not fetch the token keys" in log.getvalue()


# --------------------------------------------------------------------------- settings


def test_jwt_without_an_issuer_or_keys_is_one_clear_error():
    with pytest.raises(ConfigError, match="issuer and jwks_url are not set"):
        AuthSettings.from_bundle(ServingAuth(mode=AuthMode.JWT))
    with pytest.raises(ConfigError, match="not an http"):
        AuthSettings.from_bundle(
            ServingAuth(mode=AuthMode.JWT), issuer=ISSUER, jwks_url="file:///etc/keys"
        )


def test_flags_win_over_the_bundle():
    section = ServingAuth(mode=AuthMode.JWT, issuer="https://a/v1/identity/oidc",
                          jwks_url="https://a/keys", audience="aud-a")  # fmt: skip
    resolved = AuthSettings.from_bundle(section, audience="aud-b", mode=None)
    assert resolved.mode is AuthMode.JWT and resolved.audience == "aud-b"
    assert AuthSettings.from_bundle(section, mode=AuthMode.NONE).mode is AuthMode.NONE


def test_the_start_line_says_who_may_call():
    assert "anyone who can reach this port" in AuthSettings().describe("iris")
    line = AuthSettings(
        mode=AuthMode.JWT, issuer=ISSUER, jwks_url="https://k", namespace="t"
    ).describe("iris")
    assert "t/iris" in line and ISSUER in line


def test_the_openapi_document_declares_the_bearer_scheme(client):
    document = client.get("/v2/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = document["paths"]
    for path in ("/predict", "/v2/models/{model_name}/infer", "/v2/models/{model_name}"):
        operation = next(iter(paths[path].values()))
        if "security" not in operation:
            operation = paths[path]["post" if "post" in paths[path] else "get"]
        assert operation["security"] == [{"bearer": []}], path
        assert {"401", "403"} <= set(operation["responses"]), path
    assert "security" not in paths["/v2/models/{model_name}/ready"]["get"]
    assert "security" not in paths["/v2/health/ready"]["get"]
