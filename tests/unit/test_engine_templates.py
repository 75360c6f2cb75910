"""The engine's template renderer and the workload-identity variable rules it reads with."""

from __future__ import annotations

import pytest

from mlctl.local.engine.acl import Grant, WorkloadClaim, parse_policy
from mlctl.local.engine.templates import (
    TemplateFailed,
    TemplateMissing,
    parse_env,
    render_task_templates,
    render_template,
)

TOKEN_TEMPLATE = '{{ with nomadVar "nomad/jobs/env-a" }}JUPYTER_TOKEN={{ .token }}\n{{ end }}'


def lookup(items: dict[str, dict[str, str]]):  # type: ignore[no-untyped-def]
    def read(path: str) -> dict[str, str] | None:
        if path.startswith("secret/"):
            raise PermissionError(path)
        return items.get(path)

    return read


def test_renders_a_variable_into_env_lines() -> None:
    rendered = render_task_templates(
        [{"EmbeddedTmpl": TOKEN_TEMPLATE, "DestPath": "secrets/env", "Envvars": True}],
        lookup({"nomad/jobs/env-a": {"token": "s3cr3t"}}),
        namespace="team-a",
    )
    assert rendered[0].env == {"JUPYTER_TOKEN": "s3cr3t"}
    assert rendered[0].destination == "secrets/env"


def test_index_form_and_missing_key() -> None:
    data = '{{ with nomadVar "p" }}{{ index . "a-b" }}/{{ .zzz }}{{ end }}'
    assert render_template(data, lookup({"p": {"a-b": "1"}}), namespace="n", region="r") == (
        "1/<no value>"
    )


def test_missing_variable_waits_like_nomad() -> None:
    with pytest.raises(
        TemplateMissing, match=r"Missing: nomadVar.block\(nomad/jobs/env-a@ns.global\)"
    ):
        render_template(TOKEN_TEMPLATE, lookup({}), namespace="ns", region="global")


def test_denied_variable_fails_and_unknown_functions_are_refused() -> None:
    with pytest.raises(TemplateFailed, match="Permission denied"):
        render_template(
            '{{ with nomadVar "secret/x" }}{{ end }}', lookup({}), namespace="n", region="g"
        )
    with pytest.raises(TemplateFailed, match="unsupported"):
        render_template('{{ env "HOME" }}', lookup({}), namespace="n", region="g")
    with pytest.raises(TemplateFailed, match="without"):
        render_template('{{ with nomadVar "p" }}', lookup({"p": {}}), namespace="n", region="g")


def test_env_parsing_follows_dotenv_rules() -> None:
    assert parse_env('# c\nA=1\nexport B="two words"\nC=\n') == {
        "A": "1",
        "B": "two words",
        "C": "",
    }
    with pytest.raises(TemplateFailed, match="line 1"):
        parse_env("not a pair")


POLICY = """
namespace "*" { policy = "write" }
namespace "team-a" {
  policy = "read"
  variables {
    path "mlctl/*" { capabilities = ["read"] }
    path "nomad/jobs/pinned" { capabilities = ["deny"] }
  }
}
"""


def test_coarse_policies_grant_no_variables() -> None:
    grant = Grant(False, [parse_policy('namespace "*" { policy = "write" }')])
    assert grant.allow_namespace("x", "submit-job")
    assert not grant.allow_variable("x", "nomad/jobs/env-a", "read")
    assert not grant.allow_variable("x", "anything", "list")


def test_read_implies_list_and_globs_apply() -> None:
    grant = Grant(False, [parse_policy(POLICY)])
    assert grant.allow_variable("team-a", "mlctl/train/run", "read")
    assert grant.allow_variable("team-a", "mlctl/train/run", "list")
    assert not grant.allow_variable("team-a", "mlctl/train/run", "write")


def test_workload_identity_reads_only_its_own_job_paths() -> None:
    claim = WorkloadClaim("team-a", "env-a", "main", "jupyter")
    grant = Grant(False, [], claim=claim)
    for path in (
        "nomad/jobs",
        "nomad/jobs/env-a",
        "nomad/jobs/env-a/main",
        "nomad/jobs/env-a/main/jupyter",
    ):
        assert grant.allow_variable("team-a", path, "read"), path
    assert not grant.allow_variable("team-a", "nomad/jobs/env-a", "write")
    assert not grant.allow_variable("team-a", "nomad/jobs/env-b", "read")
    assert not grant.allow_variable("team-b", "nomad/jobs/env-a", "read")
    # An exact policy path wins over the implicit workload access.
    pinned = Grant(False, [parse_policy(POLICY)], claim=WorkloadClaim("team-a", "pinned", "g", "t"))
    assert not pinned.allow_variable("team-a", "nomad/jobs/pinned", "read")


def test_workload_lookup_reads_as_the_task() -> None:
    from mlctl.local.engine.templates import claim_for, workload_lookup

    store = {
        ("team-a", "nomad/jobs/mlctl-train-r1"): {"Items": {"store_user": "u"}},
        ("team-a", "nomad/jobs/other"): {"Items": {"x": "y"}},
    }
    child = {
        "ID": "mlctl-train-r1/dispatch-1-abc",
        "ParentID": "mlctl-train-r1",
        "Namespace": "team-a",
    }
    read = workload_lookup(
        lambda ns, path: store.get((ns, path)), claim_for(child, "trial", "trial")
    )
    assert read("nomad/jobs/mlctl-train-r1") == {"store_user": "u"}
    assert read("nomad/jobs/mlctl-train-r1/trial") is None  # allowed, absent: the template waits
    with pytest.raises(PermissionError):
        read("nomad/jobs/other")


def test_render_and_write_for_a_task(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import stat

    from mlctl.local.engine.templates import render_for_task, write_templates

    job = {"ID": "mlctl-env-nb", "Namespace": "team-a"}
    task = {
        "Name": "jupyter",
        "Templates": [
            {
                "EmbeddedTmpl": TOKEN_TEMPLATE.replace("env-a", "mlctl-env-nb"),
                "DestPath": "secrets/j.env",
                "Envvars": True,
            },
            {"EmbeddedTmpl": "numpy\n", "DestPath": "local/requirements.txt", "Envvars": False},
        ],
    }
    store = {("team-a", "nomad/jobs/mlctl-env-nb"): {"Items": {"token": "t0ken-value"}}}
    rendered = render_for_task(lambda ns, path: store.get((ns, path)), job, "env", task)
    assert rendered[0].env == {"JUPYTER_TOKEN": "t0ken-value"}
    write_templates(rendered, tmp_path)
    secret = tmp_path / "secrets" / "j.env"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (tmp_path / "local" / "requirements.txt").read_text() == "numpy\n"
    with pytest.raises(TemplateFailed, match="escapes"):
        write_templates([type(rendered[0])("../x", "", None)], tmp_path)
