"""Environments and training for real: the local runtime's raw_exec driver runs the tasks.

A training run over 4 candidates dispatches 4 jobs whose trials really search with
FLAML; the best bundle is deployed on the same runtime and answers the held-out rows
with the accuracy the leaderboard reported. A python-batch environment and a
python-service app run as processes; a Jupyter workspace too when jupyterlab is
installed (the ``jupyter`` extra). Budgets are tiny (``--max-iter``) to keep CI short.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

runtime_module = pytest.importorskip(
    "mlctl.local.engine.runtime", reason="needs the local runtime's raw_exec driver"
)
pytest.importorskip("flaml", reason="needs the train extra")

from tests.cli_runner import run_cli  # noqa: E402

WAIT = 180.0


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An in-process local runtime (raw_exec), mlctl pointed at it with a file:// store."""
    import psutil

    runtime = runtime_module.build_runtime(tmp_path / "local", gpus=([], "no GPUs in tests"))
    runtime.sim.start()
    store = tmp_path / "store"
    store.mkdir()
    monkeypatch.setenv("NOMAD_ADDR", runtime.sim.address)
    monkeypatch.setenv("NOMAD_TOKEN", runtime.sim.management_token or "")
    monkeypatch.setenv("MLCTL_ARTIFACT_STORE", store.as_uri())
    monkeypatch.setenv("MLCTL_TASK_DRIVER", "raw_exec")
    monkeypatch.setenv("MLCTL_CHECK_INTERVAL", "1s")
    monkeypatch.setenv("MLCTL_MIN_HEALTHY_TIME", "1s")
    monkeypatch.chdir(tmp_path)
    try:
        yield runtime
    finally:
        runtime.sim.stop()
        runtime.runner.kill_everything(runtime.sim.lifecycle)
        runtime.close()
        for process in psutil.process_iter(["cwd"]):
            cwd = process.info.get("cwd") or ""
            if cwd.startswith(str(tmp_path)) and process.pid != os.getpid():
                with contextlib.suppress(psutil.Error):
                    process.kill()


def endpoint(job_name: str) -> str:
    status = run_cli(["-o", "json", "status", job_name])
    assert status.status == 0, status.stderr
    urls = json.loads(status.stdout)["model"]["endpoints"]
    assert urls, "no endpoint"
    return str(urls[0])


def test_train_four_candidates_for_real_and_serve_the_best(local: Any, tmp_path: Path) -> None:
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    frame = load_wine(as_frame=True).frame
    frame.to_csv(tmp_path / "wine.csv", index=False)
    result = run_cli(
        [
            "-o",
            "json",
            "train",
            "wine.csv",
            "--target",
            "target",
            "--candidates",
            "lgbm,rf,extra_tree,lr",
            "--time-budget",
            "20",
            "--max-iter",
            "2",
            "--seed",
            "5",
            "--out",
            str(tmp_path / "models"),
        ]
    )
    assert result.status == 0, result.stderr
    summary = json.loads(result.stdout)
    board = summary["leaderboard"]
    assert sorted(r["candidate"] for r in board) == ["extra_tree", "lgbm", "lrl2", "rf"]
    assert all(r["status"] == "ok" for r in board), board
    run = summary["run"]
    listed = run_cli(["-o", "json", "train", "status", run])
    record = json.loads(listed.stdout)
    assert len(record["trials"]) == 4 and all("/dispatch-" in j for j in record["trials"].values())
    best = summary["best"]
    bundle = Path(summary["bundle"])
    deployed = run_cli(["deploy", str(bundle), "--timeout", "150"])
    assert deployed.status == 0, deployed.stderr
    _, holdout = train_test_split(frame, test_size=0.2, random_state=5, stratify=frame["target"])
    rows = holdout.drop(columns="target").to_numpy().tolist()
    name = yaml.safe_load((bundle / "mlctl.yaml").read_text())["name"]
    answer = requests.post(f"{endpoint(name)}/predict", json={"features": rows}, timeout=30)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    accuracy = sum(int(p == t) for p, t in zip(predictions, holdout["target"], strict=True)) / len(
        rows
    )
    assert accuracy == pytest.approx(best["holdout_score"])
    history = json.loads(run_cli(["-o", "json", "train", "list"]).stdout)
    assert history[0]["run"] == run and history[0]["best"] == best["candidate"]


def test_batch_environment_and_app_run_for_real(local: Any, tmp_path: Path) -> None:
    etl = tmp_path / "etl"
    etl.mkdir()
    (etl / "run.py").write_text("import sys\nprint('etl done', sys.argv[1:])\n")
    created = run_cli(
        [
            "env",
            "create",
            "etl",
            "--template",
            "python-batch",
            "--app",
            str(etl),
            "--var",
            "command=[python, run.py, --day, '2026-11-30']",
        ]
    )
    assert created.status == 0, created.stderr

    def finished() -> bool:
        rows = json.loads(run_cli(["-o", "json", "env", "list"]).stdout)
        return any(r["name"] == "etl" and r["status"] == "complete" for r in rows)

    wait_for(finished, "the batch environment to complete")
    logs = run_cli(["env", "logs", "etl"])
    assert "etl done ['--day', '2026-11-30']" in logs.stdout

    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "index.html").write_text("<h1>shop</h1>\n")
    (shop / "mlctl-app.yaml").write_text(
        'command: [python, -m, http.server, "${NOMAD_PORT_http}", --bind, 127.0.0.1]\n'
        "port: 8000\nhealth_path: /\nreplicas: 1\nversion: '1.0'\n"
    )
    app = run_cli(["env", "create", "shop", "--template", "python-service", "--app", str(shop)])
    assert app.status == 0, app.stderr
    url = run_cli(["env", "url", "shop"]).stdout.strip()
    assert requests.get(url, timeout=10).text == "<h1>shop</h1>\n"


def test_jupyter_workspace_for_real_with_its_secret_token(local: Any) -> None:
    pytest.importorskip(
        "jupyterlab", reason="needs the jupyter extra (pip install 'mlctl[jupyter]')"
    )
    created = run_cli(["env", "create", "nb", "--template", "jupyter-cpu", "--timeout", "150"])
    assert created.status == 0, created.stderr
    info = json.loads(run_cli(["-o", "json", "env", "url", "nb"]).stdout)
    base = info["url"].split("/?token=")[0]
    assert requests.get(f"{base}/api/contents", timeout=10).status_code == 403
    ok = requests.get(f"{base}/api/contents", params={"token": info["token"]}, timeout=10)
    assert ok.status_code == 200
    for kind in ("stdout", "stderr"):
        logs = run_cli(["env", "logs", "nb", *(["--stderr"] if kind == "stderr" else [])])
        assert info["token"] not in logs.stdout
    spec = requests.get(
        f"{local.sim.address}/v1/job/mlctl-env-nb",
        headers={"X-Nomad-Token": local.sim.management_token},
        timeout=10,
    ).text
    assert info["token"] not in spec
