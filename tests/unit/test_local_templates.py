"""The template subset: literal data, env, nomadVar of the task's own job, env files."""

from __future__ import annotations

import stat

import pytest

from mlctl.local.engine.templates import (
    TemplateError,
    parse_env_file,
    render,
    render_task_templates,
)

VARS = {("default", "nomad/jobs/mon"): {"role_id": "r-1", "secret_id": "s-2"}}


def read(namespace, path):
    return VARS.get((namespace, path))


def test_nomad_var_and_env_render_like_consul_template():
    text = (
        '{{- with nomadVar "nomad/jobs/mon" -}}\n'
        "ROLE={{ .role_id }}\nSECRET={{ .secret_id }}\n"
        '{{- end }}\nHOME={{ env "HOME" }}'
    )
    assert render(text, {"HOME": "/h"}, read, "default", "nomad/jobs/mon") == (
        "ROLE=r-1\nSECRET=s-2\nHOME=/h"
    )
    assert render('[[ env "A" ]]', {"A": "1"}, read, "default", "x", ("[[", "]]")) == "1"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{{ with nomadVar "nomad/jobs/other" }}{{ end }}', "permission denied"),
        ('{{ with nomadVar "nomad/jobs/mon/missing" }}{{ end }}', "Missing: nomad.var.block"),
        ('{{ key "x" }}', "is not supported"),
        ('{{ with nomadVar "nomad/jobs/mon" }}', "missing {{ end }}"),
        ("{{ end }}", "unexpected"),
    ],
)
def test_what_cannot_be_rendered_is_one_clear_error(text, fragment):
    with pytest.raises(TemplateError, match=fragment):
        render(text, {}, read, "default", "nomad/jobs/mon")


def test_task_templates_write_files_and_feed_env(tmp_path):
    task = {
        "Templates": [
            {"EmbeddedTmpl": "level: info\n", "DestPath": "local/monitor.yaml"},
            {
                "EmbeddedTmpl": (
                    '{{ with nomadVar "nomad/jobs/mon" }}ROLE_ID={{ .role_id }}{{ end }}'
                ),
                "DestPath": "secrets/approle.env",
                "Envvars": True,
                "Perms": "0600",
            },
        ]
    }
    added = render_task_templates(task, tmp_path, {}, read, "default", "mon")
    assert added == {"ROLE_ID": "r-1"}
    assert (tmp_path / "local/monitor.yaml").read_text() == "level: info\n"
    assert stat.S_IMODE((tmp_path / "secrets/approle.env").stat().st_mode) == 0o600
    escape = {"Templates": [{"EmbeddedTmpl": "x", "DestPath": "../../etc/x"}]}
    with pytest.raises(TemplateError, match="escapes the task directory"):
        render_task_templates(escape, tmp_path, {}, read, "default", "mon")


def test_env_files_are_key_value_lines():
    assert parse_env_file('# c\nA=1\n\nB = "two"\n') == {"A": "1", "B": "two"}
    with pytest.raises(TemplateError, match="line 1"):
        parse_env_file("not a pair")
