"""The monitor's Nomad job template: documented variables, a golden file, strict escaping.

Regenerate the golden file after an intended template change with::

    UPDATE_GOLDEN=1 python -m pytest tests/unit/test_monitor_job.py
"""

from __future__ import annotations

import os
from pathlib import Path

import hcl2
import yaml

from mlctl.local.engine.hclparse import parse_job
from mlctl.monitor import config as monitor_config
from mlctl.monitor.deploy import TEMPLATE, MonitorJob, render_monitor_job, template_variables
from mlctl.paths import data_dir

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "monitor.hcl"


def job(**config: object) -> MonitorJob:
    return MonitorJob(
        namespace="ops",
        datacenters=("dc1", "dc2"),
        image="registry.example/mlctl:0.1.0-cpu",
        nomad_addr="https://nomad.service:4646",
        vault_addr="https://vault.service:8200",
        config=monitor_config.parse(config, "test"),
        nomad_cacert_path="/etc/mlctl/ca.pem",
    )


def test_every_variable_is_documented() -> None:
    documented = yaml.safe_load((data_dir("jobspecs") / "variables.yaml").read_text())
    assert set(documented[TEMPLATE]) == set(template_variables(job()))


def test_rendered_job_matches_golden_file() -> None:
    rendered = render_monitor_job(
        job(route={"receiver": "default", "group_by": ["model"]},
            receivers=[{"name": "default", "webhook": [{"url": "https://hooks.example/a"}]}])
    )  # fmt: skip
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(rendered, encoding="utf-8")
    assert rendered == GOLDEN.read_text(encoding="utf-8")
    parsed = hcl2.loads(rendered)
    assert parsed["job"][0]['"mlctl-monitor"']["namespace"] == '"ops"'


def test_values_cannot_break_out_or_be_interpolated() -> None:
    tricky = 'x" ${attr.kernel.name} %{ if true }'
    rendered = render_monitor_job(job(labels={"team": tricky}))
    assert "${attr" not in rendered and "%{ if" not in rendered
    parsed = parse_job(rendered)  # Nomad's parser (the engine's): one valid job
    config = parsed["TaskGroups"][0]["Tasks"][0]["Templates"][0]["EmbeddedTmpl"]
    assert yaml.safe_load(config)["labels"]["team"] == tricky  # arrives literally


def test_raw_exec_runs_the_hosts_python_on_the_dynamic_port() -> None:
    raw = MonitorJob(
        namespace="default",
        datacenters=("dc1",),
        image="unused",
        nomad_addr="http://127.0.0.1:4646",
        vault_addr="http://127.0.0.1:8200",
        task_driver="raw_exec",
        python="/opt/mlctl/bin/python",
    )
    task = parse_job(render_monitor_job(raw))["TaskGroups"][0]["Tasks"][0]
    assert task["Driver"] == "raw_exec"
    assert task["Config"]["command"] == "/opt/mlctl/bin/python"
    assert task["Config"]["args"][:4] == ["-m", "mlctl", "monitor", "run"]
    assert "${NOMAD_IP_http}:${NOMAD_PORT_http}" in task["Config"]["args"]
    assert task["KillSignal"] == "SIGTERM"
