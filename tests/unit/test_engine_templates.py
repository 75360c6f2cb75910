"""The workload-identity variable rules and the template forms environments and training use."""

from __future__ import annotations

from mlctl.local.engine.acl import Grant, WorkloadClaim, parse_policy
from mlctl.local.engine.templates import parse_env_file, render, render_task_templates

TOKEN_TEMPLATE = '{{ with nomadVar "nomad/jobs/env-a" }}JUPYTER_TOKEN={{ .token }}\n{{ end }}'


def test_index_form_and_missing_key() -> None:
    data = '{{ with nomadVar "p" }}{{ index . "a-b" }}/{{ .zzz }}{{ end }}'
    assert render(data, {}, lambda ns, path: {"a-b": "1"}, "n", "p") == "1/<no value>"


def test_the_workspace_token_reaches_the_task_env_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    task = {
        "Templates": [
            {"EmbeddedTmpl": TOKEN_TEMPLATE, "DestPath": "secrets/env", "Envvars": True},
            {"EmbeddedTmpl": "numpy\n", "DestPath": "local/requirements.txt"},
        ]
    }
    store = {("team-a", "nomad/jobs/env-a"): {"token": "s3cr3t"}}
    added = render_task_templates(
        task, tmp_path, {}, lambda ns, path: store.get((ns, path)), "team-a", "env-a"
    )
    assert added == {"JUPYTER_TOKEN": "s3cr3t"}
    assert (tmp_path / "local" / "requirements.txt").read_text() == "numpy\n"


def test_env_files_skip_comments() -> None:
    assert parse_env_file('# c\nA=1\nB="two words"\n') == {"A": "1", "B": "two words"}


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
