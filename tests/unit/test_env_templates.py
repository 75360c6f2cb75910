"""Environment and training job templates: golden files, the parser's view, escaping.

Regenerate the golden files after an intended template change with::

    UPDATE_GOLDEN=1 python -m pytest tests/unit/test_env_templates.py

and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlctl.envs.load import LoadedSpec, check
from mlctl.envs.render import EnvOptions, env_context, render_env_job
from mlctl.local.engine.hclparse import parse_job
from mlctl.paths import data_dir
from mlctl.render import TemplateError, render_template
from mlctl.train.jobspec import TRAIN_TEMPLATE, TrainJob, render_train_job, train_variables
from mlctl.train.plan import RunPlan, Task

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SHA = "ab" * 32


def loaded(spec: dict[str, Any], base: Path = Path()) -> LoadedSpec:
    result, problems = check(spec, "env.yaml", base)
    assert result is not None, problems
    return result


def opts(**changes: Any) -> EnvOptions:
    values: dict[str, Any] = {
        "namespace": "team-a",
        "datacenters": ("dc1",),
        "owner": "alice",
        "python": "/usr/bin/python3",
    }
    values.update(changes)
    return EnvOptions(**values)


CASES: dict[str, tuple[dict[str, Any], EnvOptions]] = {
    "jupyter-gpu": (
        {
            "name": "nb",
            "template": "jupyter-gpu",
            "packages": ["transformers>=4.40"],
            "resources": {"gpu": {"count": 2, "memory": 16384, "model": "Tesla T4"}},
            "datasets": [
                {
                    "name": "iris",
                    "source": "https://store/datasets/iris.csv",
                    "checksum": f"sha256:{SHA}",
                },
                {"name": "imagenet", "volume": "imagenet"},
            ],
            "storage": [
                {"target": "/work", "lifecycle": "persistent", "volume": "alice-work"},
                {"target": "/scratch", "size": 2048},
            ],
        },
        opts(),
    ),
    "jupyter-cpu-raw-exec": (
        {"name": "nb", "template": "jupyter-cpu", "variables": {"interface": "notebook"}},
        opts(driver="raw_exec"),
    ),
    "python-batch": (
        {
            "name": "etl",
            "template": "python-batch",
            "variables": {"command": ["python", "run.py", "--day", "${NOMAD_META_day}"]},
            "ports": [{"label": "metrics", "to": 9100}],
        },
        opts(),
    ),
    "python-service": (
        {
            "name": "shop",
            "template": "python-service",
            "variables": {
                "command": ["python", "-m", "http.server", "${NOMAD_PORT_http}"],
                "health_path": "/",
                "replicas": 2,
                "version": "1.2",
            },
        },
        opts(app_url="https://store/apps/shop-app/x.tar.gz", app_sha256=SHA, driver="raw_exec"),
    ),
}


def _golden(name: str, text: str) -> None:
    path = GOLDEN / "environments" / f"{name}.hcl"
    if UPDATE:
        path.write_text(text)
    assert path.read_text() == text, f"{path.name} changed; UPDATE_GOLDEN=1 and review the diff"


@pytest.mark.parametrize("case", sorted(CASES))
def test_environment_templates_match_golden_files_and_parse(case: str) -> None:
    spec, options = CASES[case]
    text = render_env_job(loaded(spec), options)
    _golden(case, text)
    job = parse_job(text)
    assert job["Namespace"] == "team-a"
    assert job["Meta"]["mlctl.env"] == spec["name"]


def test_gpu_workspace_has_devices_volumes_token_and_no_secret() -> None:
    spec, options = CASES["jupyter-gpu"]
    job = parse_job(render_env_job(loaded(spec), options))
    group = job["TaskGroups"][0]
    task = group["Tasks"][0]
    [device] = task["Resources"]["Devices"]
    assert device["Name"] == "nvidia/gpu" and device["Count"] == 2
    assert device["Constraints"][0]["RTarget"] == "16384 MiB"
    assert device["Affinities"][0]["RTarget"] == "Tesla T4"
    assert task["Config"]["runtime"] == "nvidia"
    assert group["Volumes"]["imagenet"] == {
        "Name": "imagenet",
        "Type": "host",
        "Source": "imagenet",
        "ReadOnly": True,
    }
    assert {"Volume": "storage_0", "Destination": "/work", "ReadOnly": False} in task[
        "VolumeMounts"
    ]
    assert group["EphemeralDisk"]["SizeMB"] == 4096 + 2048
    token = task["Templates"][0]
    assert (
        token["Envvars"] is True and 'nomadVar "nomad/jobs/mlctl-env-nb"' in token["EmbeddedTmpl"]
    )
    assert "JUPYTER_TOKEN" not in task.get("Env", {})
    assert group["Services"][0]["Checks"][0]["Path"] == "/api"


def test_app_is_operated_like_a_model() -> None:
    spec, options = CASES["python-service"]
    job = parse_job(render_env_job(loaded(spec), options))
    assert job["ID"] == "mlctl-shop"
    assert job["Meta"]["mlctl.model"] == "shop" and job["Meta"]["mlctl.version"] == "1.2"
    group = job["TaskGroups"][0]
    assert (group["Name"], group["Tasks"][0]["Name"], group["Count"]) == ("model", "server", 2)
    assert group["Update"]["AutoRevert"] is True
    artifact = group["Tasks"][0]["Artifacts"][0]
    assert artifact["GetterOptions"] == {"checksum": f"sha256:{SHA}"}
    # raw_exec has no port mapping: the app listens on the host port itself.
    assert group["Networks"][0]["DynamicPorts"][0]["To"] == 0


def test_batch_runs_once() -> None:
    spec, options = CASES["python-batch"]
    job = parse_job(render_env_job(loaded(spec), options))
    group = job["TaskGroups"][0]
    assert job["Type"] == "batch"
    assert group["RestartPolicy"]["Attempts"] == 0 and group["ReschedulePolicy"]["Attempts"] == 0
    assert group["Tasks"][0]["Config"]["args"][-1] == "${NOMAD_META_day}"


NASTY = ['a"b', "x\ny", "${attr.kernel.name}", "%{ if true }x%{ endif }", "back\\slash", "é ☃"]


@pytest.mark.parametrize("value", NASTY)
def test_user_strings_cannot_break_out_of_their_hcl_string(value: str) -> None:
    spec = {
        "name": "etl",
        "template": "python-batch",
        "image": f"img:{value}",
        "variables": {"command": ["python", value]},
        "datasets": [{"name": "d", "source": f"https://s/{value}", "checksum": f"sha256:{SHA}"}],
    }
    job = parse_job(render_env_job(loaded(spec), opts()))
    task = job["TaskGroups"][0]["Tasks"][0]
    assert task["Config"]["image"] == f"img:{value}"
    assert task["Config"]["args"][-1] == value
    assert task["Artifacts"][0]["GetterSource"] == f"https://s/{value}"


def test_variables_file_documents_exactly_the_render_context() -> None:
    documented = yaml.safe_load(
        (data_dir("jobspecs") / "environments" / "variables.yaml").read_text()
    )
    keys: set[str] = set()
    for spec, options in CASES.values():
        keys |= set(env_context(loaded(spec), options))
    assert set(documented["env"]) == keys
    for name, entry in documented["env"].items():
        assert entry.get("type") and entry.get("description"), name


def test_train_variables_are_documented_and_render() -> None:
    plan = RunPlan(Task.CLASSIFICATION, "accuracy", ["lgbm", "rf"], 30, 7, gpus=1, max_iter=5)
    job = TrainJob(
        "20261130-101500-ab12",
        plan,
        "label",
        f"https://store/datasets/{SHA}.csv",
        SHA,
        ".csv",
        "team-a",
        ("dc1",),
        "alice",
        "https://store/models",
        None,
        True,
    )
    documented = yaml.safe_load((data_dir("jobspecs") / "variables.yaml").read_text())
    assert set(documented[TRAIN_TEMPLATE]) == set(train_variables(job))
    text = render_train_job(job)
    _golden("train-trial", text)
    parsed = parse_job(text)
    assert parsed["ParameterizedJob"]["MetaRequired"] == ["candidate", "budget", "seed"]
    task = parsed["TaskGroups"][0]["Tasks"][0]
    assert "store_password" in task["Templates"][0]["EmbeddedTmpl"]
    assert "PASSWORD" not in " ".join(task["Env"])  # credentials only via the template
    assert task["Resources"]["Devices"][0]["Count"] == 1


def test_misspelt_context_key_fails_naming_it() -> None:
    with pytest.raises(TemplateError, match="'imgae'"):
        render_template(
            "env-misspelt.nomad.hcl.j2", {"env": {"job_id": "x"}}, search_path=GOLDEN / "broken"
        )
