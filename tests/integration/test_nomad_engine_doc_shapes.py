"""The Nomad engine against HashiCorp's documented response samples, endpoint by endpoint.

``tests/fixtures/nomad_api_shapes/shapes.json`` holds the *shape* (key names and JSON
types, never values) of every ``Sample Response`` in hashicorp/nomad's
``website/content/api-docs`` (regenerate with ``extract.py`` beside it). Each test below
puts the engine into a state where the endpoint has something to say, calls it, and
requires every documented key to be present, recursively (objects by key, lists by
their first element). Maps keyed by data (task names, item names, attributes) are
compared by their values' shape only.

Keys the engine leaves out on purpose are listed in ``NOT_SIMULATED`` with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.test_nomad_simulator import WEB_HCL, deployment_done, wait_for
from tests.simulators.nomad.fixtures import NomadHandle, require_sim

SHAPES = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "nomad_api_shapes" / "shapes.json").read_text()
)

#: Objects whose keys are data (names chosen by users or by the node), not fields.
NAMED = {
    "TaskStates",
    "Tasks",
    "TaskResources",
    "Summary",
    "TaskGroups",
    "FailedTGAllocs",
    "Drivers",
    "HostVolumes",
    "HostNetworks",
    "CSIControllerPlugins",
    "CSINodePlugins",
    "Children",
    "Items",
    "Meta",
    "Attributes",
    "Links",
    "ClassFiltered",
    "ConstraintFiltered",
    "ClassExhausted",
    "DimensionExhausted",
    "QuotaExhausted",
    "Scores",
    "ResourcesExhausted",
    "NodesAvailable",
    "NodesInPool",
    "ScoreMetaData",
    "DeploymentStatus.Canary",
    "PlacedCanaries",
    "Volumes",
    "ConsulTokens",
    "VaultTokens",
    "Identities",
    "Details",
    "DesiredTGUpdates",
    "QueuedAllocations",
}

#: Objects that are free-form (a task driver's own configuration).
FREE = {"Config"}

#: Documented keys the engine leaves out on purpose, and why.
NOT_SIMULATED = {
    # Consul, CSI, Vault and workload-identity integrations are not simulated.
    "CSIVolumes",
    "CSIPlugins",
    "Consul",
    "Vault",
    "VaultToken",
    "VaultNamespace",
    "ConsulToken",
    "ConsulNamespace",
    "NomadTokenID",
}

#: Keys in a sample that Nomad's own structs do not have (doc errata), by dotted path.
DOC_ERRATA = {
    # The allocation sample's embedded job shows "Spreads" on a task; Nomad's Task
    # struct has none (spreads live on jobs and groups).
    "Job.TaskGroups[].Tasks[].Spreads",
    "[].Job.TaskGroups[].Tasks[].Spreads",
}


def missing_keys(documented: Any, actual: Any, where: str = "") -> list[str]:
    """Documented keys absent from ``actual`` (dotted paths)."""
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [] if actual is None else [f"{where or '.'} is not an object"]
        found = []
        for key, shape in documented.items():
            path = f"{where}.{key}" if where else key
            if key in NOT_SIMULATED or path in DOC_ERRATA or key in FREE:
                if key in FREE and key not in actual:
                    found.append(path)
                continue
            if key not in actual:
                found.append(path)
            elif key in NAMED and isinstance(shape, dict) and isinstance(actual[key], dict):
                docs = [v for v in shape.values() if isinstance(v, dict | list)]
                for name, value in actual[key].items():
                    if docs:
                        found += missing_keys(docs[0], value, f"{path}[{name}]")
            else:
                found += missing_keys(shape, actual[key], path)
        return found
    if isinstance(documented, list) and documented and isinstance(actual, list) and actual:
        return [m for item in actual[:3] for m in missing_keys(documented[0], item, where + "[]")]
    return []


def check(area: str, endpoint: str, actual: Any) -> list[str]:
    documented = SHAPES[area][endpoint]
    return [f"{endpoint}: {m}" for m in missing_keys(documented, actual)]


class Api:
    def __init__(self, handle: NomadHandle) -> None:
        self.address = handle.address

    def __call__(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = requests.request(method, f"{self.address}{path}", json=body, timeout=30)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


@pytest.fixture
def world(nomad_cluster: NomadHandle) -> dict[str, Any]:
    """A job with a finished deployment, a canary deployment waiting for promotion,
    a variable, and the IDs the endpoints need."""
    require_sim(nomad_cluster)
    api = Api(nomad_cluster)
    job = api("POST", "/v1/jobs/parse", {"JobHCL": WEB_HCL.replace("IMAGE", "img:1")})
    registered = api("POST", "/v1/jobs", {"Job": job})
    client = nomad_cluster.client()
    wait_for(deployment_done(client, "web", 0), "the first deployment")
    canary = json.loads(json.dumps(job))
    canary["TaskGroups"][0]["Update"]["Canary"] = 1
    canary["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = "img:2"
    api("POST", "/v1/jobs", {"Job": canary})
    deployment = wait_for(
        lambda: next(
            (
                d
                for d in api("GET", "/v1/job/web/deployments")
                if d["JobVersion"] == 1
                and all(
                    len(s["PlacedCanaries"] or []) >= 1 and s["HealthyAllocs"] >= 1
                    for s in d["TaskGroups"].values()
                )
            ),
            None,
        ),
        "a healthy canary",
    )
    api("PUT", "/v1/var/app/config", {"Items": {"user": "me"}})
    allocs = api("GET", "/v1/job/web/allocations")
    return {
        "api": api,
        "job": job,
        "register": registered,
        "deployment": deployment,
        "alloc": allocs[0]["ID"],
        "node": api("GET", "/v1/nodes")[0]["ID"],
        "eval": registered["EvalID"],
    }


def test_job_endpoints_match_the_documented_shapes(world):
    api = world["api"]
    problems = check("jobs", "GET /v1/jobs", api("GET", "/v1/jobs"))
    problems += check("jobs", "GET /v1/job/:job_id", api("GET", "/v1/job/web"))
    for query in ("", "?diffs=true"):
        versions = api("GET", f"/v1/job/web/versions{query}")
        problems += check("jobs", "GET /v1/job/:job_id/versions", versions)
    for suffix in ("allocations", "evaluations", "deployments", "deployment", "summary", "scale"):
        problems += check(
            "jobs", f"GET /v1/job/:job_id/{suffix}", api("GET", f"/v1/job/web/{suffix}")
        )
    problems += check("jobs", "POST /v1/jobs", world["register"])
    plan = api("POST", "/v1/job/web/plan", {"Job": world["job"], "Diff": True})
    problems += check("jobs", "POST /v1/job/:job_id/plan", plan)
    problems += check(
        "jobs", "POST /v1/job/:job_id/evaluate", api("POST", "/v1/job/web/evaluate", {})
    )
    assert not problems, "\n".join(problems)


def test_allocation_and_node_endpoints_match_the_documented_shapes(world):
    api = world["api"]
    problems = check("allocations", "GET /v1/allocations", api("GET", "/v1/allocations"))
    alloc = api("GET", f"/v1/allocation/{world['alloc']}")
    problems += check("allocations", "GET /v1/allocation/:alloc_id", alloc)
    problems += check("nodes", "GET /v1/nodes", api("GET", "/v1/nodes"))
    problems += check("nodes", "GET /v1/node/:node_id", api("GET", f"/v1/node/{world['node']}"))
    node_allocs = api("GET", f"/v1/node/{world['node']}/allocations")
    problems += check("nodes", "GET /v1/node/:node_id/allocations", node_allocs)
    assert not problems, "\n".join(problems)


def test_evaluation_and_deployment_endpoints_match_the_documented_shapes(world):
    api = world["api"]
    problems = check("evaluations", "GET /v1/evaluations", api("GET", "/v1/evaluations"))
    related = api("GET", f"/v1/evaluation/{world['eval']}?related=true")
    problems += check("evaluations", "GET /v1/evaluation/:eval_id", related)
    dep = world["deployment"]["ID"]
    problems += check("deployments", "GET /v1/deployments", api("GET", "/v1/deployments"))
    problems += check(
        "deployments", "GET /v1/deployment/:deployment_id", api("GET", f"/v1/deployment/{dep}")
    )
    dep_allocs = api("GET", f"/v1/deployment/allocations/{dep}")
    problems += check("deployments", "GET /v1/deployment/allocations/:deployment_id", dep_allocs)
    promoted = api("POST", f"/v1/deployment/promote/{dep}", {"DeploymentID": dep, "All": True})
    problems += check("deployments", "POST /v1/deployment/promote/:deployment_id", promoted)
    assert not problems, "\n".join(problems)


def test_variable_endpoints_match_the_documented_shapes(world):
    api = world["api"]
    problems = check("variables/variables", "GET /v1/vars", api("GET", "/v1/vars"))
    current = api("GET", "/v1/var/app/config")
    problems += check("variables/variables", "GET /v1/var/:var_path", current)
    written = api("PUT", "/v1/var/app/other", {"Items": {"a": "b"}})
    problems += check("variables/variables", "PUT /v1/var/:var_path", written)
    conflict = api("PUT", "/v1/var/app/config?cas=1", {"Items": {"x": "y"}}, status=409)
    problems += check("variables/variables", "PUT /v1/var/:var_path for Conflict", conflict)
    gone = api("DELETE", "/v1/var/app/config?cas=1", status=409)
    problems += check("variables/variables", "DELETE /v1/var/:var_path for Conflict", gone)
    assert not problems, "\n".join(problems)


def test_node_events_match_the_documented_shape(nomad_cluster):
    """The nodes' registration events, replayed from index 0, carry the full Node."""
    require_sim(nomad_cluster)
    with requests.get(
        f"{nomad_cluster.address}/v1/event/stream",
        params={"topic": "Node", "index": 0},
        stream=True,
        timeout=30,
    ) as stream:
        frame = next(
            json.loads(line)
            for line in stream.iter_lines()
            if line and json.loads(line).get("Events")
        )
    events = [e for e in frame["Events"] if e["Topic"] == "Node"]
    assert events, frame
    problems = check("events", "GET /v1/event/stream", {**frame, "Events": events})
    assert not problems, "\n".join(problems)


def test_the_comparison_reports_a_missing_field():
    documented = {"A": "number", "B": {"C": "string"}, "L": [{"D": "bool"}], "Items": {"x": "s"}}
    actual = {"A": 1, "B": {}, "L": [{"D": True}, {}], "Items": {"anything": "v"}}
    assert missing_keys(documented, actual) == ["B.C", "L[].D"]
