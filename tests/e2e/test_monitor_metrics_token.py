"""The monitor reads protected ``/metrics`` with its own metrics-only identity.

A real OpenBao dev server, ``mlctl vault bootstrap`` (JWT mode), and a real model server
(iris, in-process) whose ``/metrics`` needs a token with the metrics claim. The monitor
is built by the composition root from its AppRole credentials, as the deployed job's
environment gives them; its prober then gets figures from the server, and the same
token is refused on ``/predict``. Re-running bootstrap changes nothing; a cluster
bootstrapped before the monitor had this identity gets it on the next run.
"""

from __future__ import annotations

import json
import re
from typing import Any

import hvac
import yaml

from mlctl import session
from mlctl.monitor.deploy import ROLE_ID_ENV, SECRET_ID_ENV
from mlctl.monitor.eventlog import EventLog
from mlctl.monitor.prober import Prober
from mlctl.monitor.store import Store
from mlctl.monitor.views import EndpointView
from mlctl.settings import load_settings
from tests.e2e.support import make_bundle
from tests.e2e.test_model_access import LogStream, Runner, call, claims_of, model_server
from tests.unit.monitor_objects import T0, alloc, job

KEY = ("team-b", "mlctl-iris")
SERVICE_ROLE = "mlctl-call-service-mlctl-monitor"


def bootstrap(runner: Runner, cluster: Any) -> dict[tuple[str, str], str]:
    result = runner.ok(
        "-o", "json", "vault", "bootstrap", "--nomad-token-stdin", "--nomad-auth", "jwt",
        stdin=cluster.management_token + "\n",
    )  # fmt: skip
    return {(row["kind"], row["name"]): row["action"] for row in json.loads(result.stdout)}


def fill(store: Store, port: int) -> None:
    """The Store as the follower would leave it: iris in team-b, one endpoint."""
    store.apply("jobs", job(namespace="team-b"))
    store.apply("allocs", {**alloc("a0", index=20), "Namespace": "team-b"})
    store.set_endpoints(KEY, [EndpointView("iris", "a0", "127.0.0.1", port)])


def test_the_monitor_reads_protected_metrics_and_may_not_predict(
    access_cluster, tmp_path, monkeypatch
):
    runner = Runner(access_cluster, tmp_path, monkeypatch)
    runner.act_as("root", vault_token=access_cluster.root_token)
    first = bootstrap(runner, access_cluster)
    assert first[("identity role", f"identity/oidc/role/{SERVICE_ROLE}")] == "created"
    assert set(bootstrap(runner, access_cluster).values()) == {"unchanged"}  # idempotent

    root = hvac.Client(url=access_cluster.vault_addr, token=access_cluster.root_token)
    role_id = root.auth.approle.read_role_id("mlctl-monitor")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("mlctl-monitor")["data"]["secret_id"]

    bundle = make_bundle(tmp_path, "iris")
    config = yaml.safe_load((bundle / "mlctl.yaml").read_text())
    config.setdefault("serving", {})["auth"] = {"metrics": "token"}
    (bundle / "mlctl.yaml").write_text(yaml.safe_dump(config))

    runner.act_as("monitor")  # no VAULT_TOKEN, no login: only the AppRole credentials
    settings = load_settings()
    monitor = session.monitor(
        settings, env={ROLE_ID_ENV: role_id, SECRET_ID_ENV: secret_id}, event_log=EventLog(None)
    )
    log = LogStream()
    with model_server(bundle, "team-b", access_cluster.vault_addr, log) as url:
        port = int(url.rsplit(":", 1)[1])
        fill(monitor.store, port)
        for _ in range(2):  # rates need two scrapes
            monitor.prober.probe_all(monitor.store.snapshot())
        probe = monitor.store.snapshot().models[KEY].probe
        assert probe is not None and (probe.reachable, probe.ready) == (1, 1)
        assert probe.metrics_denied == 0 and probe.req_rate is not None, probe
        assert probe.p99_ms is None or probe.p99_ms >= 0

        token = monitor.metrics_tokens.current()
        claims = claims_of(token)
        assert claims["mlctl_caller"] == "service:mlctl-monitor"
        assert claims["mlctl_metrics"] == ["*"]
        assert claims["mlctl_models"] == [] and claims["mlctl_namespaces"] == []
        assert call(url, token).status_code == 403  # metrics, never predictions
        assert call(url, token, "/v2/models/iris/infer").status_code in (403, 404)

        # The same server probed without the token: no figures, "no access", not down.
        bare = Store()
        fill(bare, port)
        Prober(bare, lambda: T0, timeout=30).probe_all(bare.snapshot())
        refused = bare.snapshot().models[KEY].probe
        assert refused is not None and (refused.reachable, refused.ready) == (1, 1)
        assert refused.metrics_denied == 1 and refused.metrics_no_access
    assert token not in log.text()


def test_a_cluster_bootstrapped_before_gets_the_monitor_identity_on_rerun(
    access_cluster, tmp_path, monkeypatch
):
    runner = Runner(access_cluster, tmp_path, monkeypatch)
    runner.act_as("root", vault_token=access_cluster.root_token)
    bootstrap(runner, access_cluster)
    # Take the cluster back to how bootstrap left it before this change.
    root = hvac.Client(url=access_cluster.vault_addr, token=access_cluster.root_token)
    root.delete(f"identity/oidc/role/{SERVICE_ROLE}")
    policy = root.sys.read_acl_policy("mlctl-monitor")["data"]["policy"]
    before = re.sub(r"# Its own model token.*?\n}\n", "", policy, flags=re.S)
    root.sys.create_or_update_acl_policy("mlctl-monitor", before)
    assert SERVICE_ROLE not in root.sys.read_acl_policy("mlctl-monitor")["data"]["policy"]

    again = bootstrap(runner, access_cluster)
    assert again[("identity role", f"identity/oidc/role/{SERVICE_ROLE}")] == "created"
    assert again[("policy", "mlctl-monitor")] == "updated"
    assert SERVICE_ROLE in root.sys.read_acl_policy("mlctl-monitor")["data"]["policy"]
    assert set(bootstrap(runner, access_cluster).values()) == {"unchanged"}
