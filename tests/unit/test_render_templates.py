"""Golden-file tests of the model job template, and the deliberately broken fixtures.

Regenerate the golden files after an intended template change with::

    UPDATE_GOLDEN=1 python -m pytest tests/unit/test_render_templates.py

and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from mlctl.errors import ExitStatus, InvalidInput
from mlctl.paths import data_dir
from mlctl.render import (
    MODEL_JOB_TEMPLATE,
    DeployOptions,
    TemplateError,
    UpdatePolicy,
    gpu_count,
    job_id_for,
    render_model_job,
    render_template,
    template_variables,
)
from tests.unit.render_cases import GOLDEN_CASES, SHA, bundle, options

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"
BROKEN_DIR = GOLDEN_DIR / "broken"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"


def parse(text: str) -> dict[str, Any]:
    options = hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    return hcl2.loads(text, serialization_options=options)


def job_of(parsed: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(job_id, job)] = parsed["job"][0].items()
    return job_id, job


def group_of(job: dict[str, Any]) -> dict[str, Any]:
    return job["group"][0]["model"]


def task_of(job: dict[str, Any]) -> dict[str, Any]:
    return group_of(job)["task"][0]["server"]


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_rendered_job_matches_golden_file(case: str) -> None:
    config, opts = GOLDEN_CASES[case]
    rendered = render_model_job(config, opts)
    golden = GOLDEN_DIR / f"{case}.hcl"
    if UPDATE_GOLDEN:
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"{golden} missing: run with UPDATE_GOLDEN=1 to create it"
    assert rendered == golden.read_text(encoding="utf-8")
    parse(rendered)  # every golden file is valid HCL


def test_cpu_job_has_no_gpu_device_and_no_nvidia_runtime() -> None:
    config, opts = GOLDEN_CASES["cpu"]
    job_id, job = job_of(parse(render_model_job(config, opts)))
    task = task_of(job)
    assert job_id == "mlctl-iris"
    assert "device" not in task["resources"][0]
    assert "runtime" not in task["config"][0]
    assert group_of(job)["count"] == 2
    assert job["meta"]["mlctl.deployed_by"] == "alice"
    assert job["meta"]["mlctl.bundle_sha256"] == SHA
    assert "node_pool" not in job and "constraint" not in job


def test_gpu_job_requests_devices_with_memory_constraint_and_model_affinity() -> None:
    config, opts = GOLDEN_CASES["gpu"]
    _, job = job_of(parse(render_model_job(config, opts)))
    task = task_of(job)
    [device] = task["resources"][0]["device"]
    spec = device["nvidia/gpu"]
    assert spec["count"] == 2
    assert spec["constraint"][0] == {
        "attribute": "${device.attr.memory}",
        "operator": ">=",
        "value": "16384 MiB",
    }
    assert spec["affinity"][0] == {
        "attribute": "${device.model}",
        "value": "Tesla T4",
        "weight": 50,
    }
    assert task["config"][0]["runtime"] == "nvidia"
    assert group_of(job)["network"][0]["port"][0]["http"]["to"] == 9000
    assert task["artifact"][0]["options"][0]["checksum"] == f"sha256:{SHA}"


def test_placement_sets_node_pool_class_constraint_and_replica_override() -> None:
    config, opts = GOLDEN_CASES["placement"]
    _, job = job_of(parse(render_model_job(config, opts)))
    assert job["node_pool"] == "gpu-pool"
    assert job["datacenters"] == ["dc1", "dc2"]
    assert job["constraint"][0] == {"attribute": "${node.class}", "value": "gpu-t4"}
    assert group_of(job)["count"] == 3


def test_canary_policy_reaches_the_update_block() -> None:
    config, opts = GOLDEN_CASES["canary"]
    _, job = job_of(parse(render_model_job(config, opts)))
    update = group_of(job)["update"][0]
    assert update["canary"] == 1
    assert update["max_parallel"] == 2
    assert update["auto_promote"] is True
    assert update["auto_revert"] is True
    assert update["health_check"] == "checks"
    assert update["progress_deadline"] == "15m"
    assert job["meta"]["team"] == "vision"


def test_gpus_override_zero_forces_a_cpu_job() -> None:
    config = bundle(resources={"gpu": {"count": 2, "memory": 8000}})
    assert gpu_count(config) == 2
    assert gpu_count(config, 0) == 0
    _, job = job_of(parse(render_model_job(config, options(gpus=0))))
    assert "device" not in task_of(job)["resources"][0]
    assert "runtime" not in task_of(job)["config"][0]


def test_gpus_override_without_a_gpu_section_requests_plain_gpus() -> None:
    _, job = job_of(parse(render_model_job(bundle(), options(gpus=1))))
    [device] = task_of(job)["resources"][0]["device"]
    assert device["nvidia/gpu"] == {"count": 1}


def test_job_id_is_prefixed_model_name() -> None:
    assert job_id_for(bundle(name="fraud-detector")) == "mlctl-fraud-detector"


def test_variables_file_documents_exactly_the_template_variables() -> None:
    documented = yaml.safe_load((data_dir("jobspecs") / "variables.yaml").read_text())
    config, opts = GOLDEN_CASES["gpu"]
    assert set(documented[MODEL_JOB_TEMPLATE]) == set(template_variables(config, opts))
    for name, spec in documented[MODEL_JOB_TEMPLATE].items():
        assert spec.get("type") and spec.get("description"), name


def test_undefined_variable_fails_loudly_naming_variable_and_line() -> None:
    with pytest.raises(TemplateError) as caught:
        render_template(
            "undefined-variable.nomad.hcl.j2", {"job_id": "mlctl-x"}, search_path=BROKEN_DIR
        )
    message = caught.value.message
    assert "'modle_name' is undefined" in message
    assert "undefined-variable.nomad.hcl.j2: line 5" in message
    assert caught.value.status == ExitStatus.CONFIG


def test_number_through_string_filter_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"hcl filter expects a string, got int: 3"):
        render_template(
            "unfiltered-number.nomad.hcl.j2",
            {"job_id": "mlctl-x", "count": 3},
            search_path=BROKEN_DIR,
        )


def test_missing_variable_in_the_real_template_is_named() -> None:
    config, opts = GOLDEN_CASES["gpu"]
    variables = template_variables(config, opts)
    del variables["reschedule"]
    with pytest.raises(TemplateError, match="'reschedule' is undefined"):
        render_template(MODEL_JOB_TEMPLATE, variables)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"artifact_sha256": "abc"}, "is not 64 lowercase hex digits"),
        ({"datacenters": ()}, "at least one datacenter"),
        ({"replicas": -1}, "--replicas: -1"),
        ({"gpus": 17}, "--gpus: 17"),
        ({"extra_meta": {"mlctl.model": "x"}}, "reserved for mlctl"),
        ({"extra_meta": {"bad key": "x"}}, "meta key 'bad key'"),
        ({"artifact_url": ""}, "artifact URL is empty"),
        ({"task_driver": "podman"}, "task driver 'podman' is not one of docker, raw_exec"),
        ({"task_driver": "raw_exec"}, "needs the path of a Python interpreter"),
        ({"check_interval": "often"}, "check interval 'often' is not a duration"),
    ],
)
def test_bad_deploy_options_are_refused(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        options(**overrides)


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ({"canary": -1}, "canary: -1"),
        ({"max_parallel": 0}, "max_parallel: 0"),
        ({"healthy_deadline": "five minutes"}, "is not a duration"),
        ({"healthy_deadline": "10m", "progress_deadline": "5m"}, "must be longer than"),
        ({"auto_promote": True}, "auto_promote needs canary"),
    ],
)
def test_bad_update_policies_are_refused(policy: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        UpdatePolicy(**policy)


def test_deploy_options_are_frozen() -> None:
    opts: DeployOptions = options()
    with pytest.raises(AttributeError):
        opts.namespace = "other"  # type: ignore[misc]


def test_raw_exec_job_runs_the_hosts_python_on_the_dynamic_port() -> None:
    config, opts = GOLDEN_CASES["raw_exec"]
    _, job = job_of(parse(render_model_job(config, opts)))
    group, task = group_of(job), task_of(job)
    assert task["driver"] == "raw_exec"
    cfg = task["config"][0]
    assert cfg["command"] == "/home/alice/venv/bin/python"
    assert cfg["args"] == [
        "-m", "mlctl", "serve", "local/bundle",
        "--host", "${NOMAD_IP_http}", "--port", "${NOMAD_PORT_http}",
    ]  # fmt: skip
    assert "image" not in cfg and "ports" not in cfg and "runtime" not in cfg
    # no port mapping: the process binds the host port Nomad chose
    assert group["network"][0]["port"][0]["http"] == {}
    assert group["service"][0]["check"][0]["interval"] == "1s"
    assert group["update"][0]["min_healthy_time"] == "1s"
    # GPUs are still requested as devices; Nomad hands their IDs to the task's environment
    assert task["resources"][0]["device"][0]["nvidia/gpu"]["count"] == 1


def test_docker_job_names_the_mlctl_entrypoint_so_other_jobs_can_share_the_image() -> None:
    config, opts = GOLDEN_CASES["cpu"]
    cfg = task_of(job_of(parse(render_model_job(config, opts)))[1])["config"][0]
    assert cfg["entrypoint"] == ["mlctl"]
    assert cfg["args"][0] == "serve"


def test_the_task_macro_refuses_an_unknown_driver(tmp_path: Path) -> None:
    (tmp_path / "_macros.hcl.j2").write_text(
        (data_dir("jobspecs") / "_macros.hcl.j2").read_text(encoding="utf-8")
    )
    (tmp_path / "t.j2").write_text(
        '{% import "_macros.hcl.j2" as m %}{{ m.mlctl_task("lxc", "i", none, none, "", []) }}'
    )
    with pytest.raises(TemplateError, match="task driver must be docker or raw_exec, not lxc"):
        render_template("t.j2", {}, search_path=tmp_path)
