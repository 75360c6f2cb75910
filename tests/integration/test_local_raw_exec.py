"""The raw_exec driver for real: processes on loopback, driven through Nomad's API.

Each test starts the engine in-process with the real driver (as ``mlctl local`` runs
it) and small shell or ``python -m http.server`` tasks, so the whole file stays
cheap on two cores.  Waits poll conditions with generous timeouts, never sleeps.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import nomad
import psutil
import pytest
import requests

from mlctl.local.engine.runtime import Runtime, build_runtime
from tests.unit.test_local_host import FakeNvml

WAIT = 90.0
PY = sys.executable


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


class Local:
    """A running in-process runtime and helpers to talk to it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.base = runtime.sim.address
        self.api = nomad.Nomad(
            host="127.0.0.1",
            port=runtime.sim.port,
            token=runtime.sim.management_token,
            timeout=10,
        )

    def get(self, path: str, **params: Any) -> Any:
        headers = {"X-Nomad-Token": self.runtime.sim.management_token or ""}
        response = requests.get(self.base + path, params=params, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json() if "json" in response.headers["Content-Type"] else response.text

    def post(self, path: str, body: Any) -> requests.Response:
        headers = {"X-Nomad-Token": self.runtime.sim.management_token or ""}
        return requests.post(self.base + path, json=body, headers=headers, timeout=10)

    def register(self, hcl: str) -> dict[str, Any]:
        job = self.api.jobs.parse(hcl)
        return self.api.jobs.register_job({"Job": job})

    def allocs(self, job: str) -> list[dict[str, Any]]:
        return self.api.job.get_allocations(job)

    def alloc(self, alloc_id: str) -> dict[str, Any]:
        return self.api.allocation.get_allocation(alloc_id)

    def events(self, alloc_id: str, task: str = "t") -> list[tuple[str, str]]:
        states = self.alloc(alloc_id)["TaskStates"][task]
        return [(e["Type"], e["DisplayMessage"]) for e in states["Events"]]

    def running(self, job: str, count: int = 1) -> list[dict[str, Any]]:
        def check() -> tuple[list[dict[str, Any]]] | None:
            live = [a for a in self.allocs(job) if a["ClientStatus"] == "running"]
            return (live,) if len(live) == count else None

        return wait_for(check, f"{count} running allocation(s) of {job}")[0]

    def deployment(self, job: str, status: str) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            dep = self.api.job.get_deployment(job)
            return dep if dep and dep["Status"] == status else None

        return wait_for(check, f"a {status} deployment of {job}")

    def logs(self, alloc_id: str, kind: str = "stdout", task: str = "t") -> str:
        return str(
            self.get(f"/v1/client/fs/logs/{alloc_id}", task=task, type=kind, plain="true") or ""
        )

    def pid(self, alloc_id: str, task: str = "t") -> int:
        with self.runtime.sim.store.lock:
            return self.runtime.runner.procs[(alloc_id, task)].pid


@pytest.fixture
def local(tmp_path) -> Iterator[Local]:
    runtime = build_runtime(tmp_path / "local", gpus=nvml_gpus_fake())
    runtime.sim.start()
    try:
        yield Local(runtime)
    finally:
        runtime.sim.stop()
        runtime.runner.kill_everything(runtime.sim.lifecycle)
        runtime.close()
        _kill_strays(tmp_path)


def nvml_gpus_fake() -> Any:
    from mlctl.local.engine.host import nvml_gpus

    return nvml_gpus(FakeNvml())


def _kill_strays(root) -> None:
    """Processes this test started (their working directory is under tmp_path)."""
    for process in psutil.process_iter(["cwd"]):
        cwd = process.info.get("cwd") or ""
        if cwd.startswith(str(root)) and process.pid != os.getpid():
            with contextlib.suppress(psutil.Error):
                process.kill()


def service_job(name: str, *, check_path: str = "/", count: int = 1, extra: str = "") -> str:
    return f"""
job "{name}" {{
  group "g" {{
    count = {count}
    network {{ port "http" {{}} }}
    service {{
      name     = "{name}"
      provider = "nomad"
      port     = "http"
      check {{
        type     = "http"
        path     = "{check_path}"
        interval = "1s"
        timeout  = "1s"
      }}
    }}
    update {{
      min_healthy_time  = "1s"
      healthy_deadline  = "6s"
      progress_deadline = "12s"
      auto_revert       = true
    }}
    {extra}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "{PY}"
        args    = ["-m", "http.server", "${{NOMAD_PORT_http}}", "--bind", "${{NOMAD_IP_http}}"]
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}
"""


def shell_job(
    name: str,
    script: str,
    *,
    kind: str = "service",
    extra: str = "",
    task: str = "",
    resources: str = "",
) -> str:
    return f"""
job "{name}" {{
  type = "{kind}"
  group "g" {{
    {extra}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", {json.dumps(script)}]
      }}
      resources {{
        cpu    = 50
        memory = 32
        {resources}
      }}
      {task}
    }}
  }}
}}
"""


# --------------------------------------------------------------------------- services


def test_a_service_is_reachable_at_its_registration_and_its_checks_pass(local):
    local.register(service_job("web"))
    local.deployment("web", "successful")
    (alloc,) = local.running("web")
    (registration,) = local.api.job.get_job("web") and local.get("/v1/service/web")
    assert registration["AllocID"] == alloc["ID"]
    answer = requests.get(f"http://{registration['Address']}:{registration['Port']}/", timeout=5)
    assert answer.ok
    checks = local.get(f"/v1/allocation/{alloc['ID']}/checks")
    assert [c["Status"] for c in checks.values()] == ["success"]
    assert ("Started", "Task started by client") in local.events(alloc["ID"])


def test_scale_up_down_to_zero_and_back(local):
    local.register(service_job("web"))
    local.deployment("web", "successful")
    for count in (3, 0, 1):
        answer = local.post("/v1/job/web/scale", {"Count": count, "Target": {"Group": "g"}})
        assert answer.ok, answer.text
        local.running("web", count)
        local.deployment("web", "successful")  # scaling waits for the rollout, as in Nomad
    ports = {r["Port"] for r in local.get("/v1/service/web")}
    assert len(ports) == 1
    stopped = [a for a in local.allocs("web") if a["DesiredStatus"] == "stop"]
    for alloc in stopped:  # the stopped replicas' processes really ended
        wait_for(
            # ended by its signal, or by SIGKILL when a loaded machine kept it past
            # kill_timeout: either way the process is gone
            lambda a=alloc: any(kind == "Killed" for kind, _ in local.events(a["ID"])),
            "the stopped replicas to be killed",
        )


def test_a_version_that_never_becomes_ready_is_rolled_back_for_real(local):
    local.register(service_job("web"))
    local.deployment("web", "successful")
    local.register(service_job("web", check_path="/never-ready"))
    failed = wait_for(
        lambda: next(
            (
                d
                for d in local.api.job.get_deployments("web")
                if d["JobVersion"] == 1 and d["Status"] == "failed"
            ),
            None,
        ),
        "version 1's deployment to fail",
    )
    assert "rolling back to job version 0" in failed["StatusDescription"]
    reverted = wait_for(
        lambda: (j := local.api.job.get_job("web"))["Version"] == 2 and j,
        "the revert to register version 2",
    )
    assert reverted["TaskGroups"][0]["Services"][0]["Checks"][0]["Path"] == "/"
    local.deployment("web", "successful")
    unhealthy = [
        a for a in local.allocs("web") if (a.get("DeploymentStatus") or {}).get("Healthy") is False
    ]
    assert unhealthy and any(
        kind == "Alloc Unhealthy" for kind, _ in local.events(unhealthy[0]["ID"])
    )


# --------------------------------------------------------------------------- failures


RESTART_ONCE = """
    restart {
      attempts = 1
      interval = "10m"
      delay    = "1s"
      mode     = "fail"
    }
    reschedule {
      delay          = "1s"
      delay_function = "constant"
      unlimited      = true
    }
    update {
      min_healthy_time  = "1s"
      healthy_deadline  = "10s"
      progress_deadline = "20s"
    }
"""


def test_a_killed_task_restarts_per_policy_then_is_rescheduled(local):
    local.register(shell_job("sleeper", "echo up; exec sleep 300", extra=RESTART_ONCE))
    local.deployment("sleeper", "successful")  # a failure during a rollout is not rescheduled
    (alloc,) = local.running("sleeper")
    os.kill(local.pid(alloc["ID"]), signal.SIGKILL)
    wait_for(
        lambda: (
            local.alloc(alloc["ID"])["TaskStates"]["t"]["Restarts"] == 1
            and local.alloc(alloc["ID"])["ClientStatus"] == "running"
        ),
        "the task to be restarted in place",
    )
    kinds = [kind for kind, _ in local.events(alloc["ID"])]
    assert kinds[-3:] == ["Terminated", "Restarting", "Started"]
    assert ("Terminated", "Exit Code: 137, Signal: 9") in local.events(alloc["ID"])
    # the second death uses up the policy: the allocation fails and a new one replaces it
    os.kill(local.pid(alloc["ID"]), signal.SIGKILL)
    failed = wait_for(
        lambda: (a := local.alloc(alloc["ID"]))["ClientStatus"] == "failed" and a,
        "the allocation to fail",
    )
    assert "Not Restarting" in [e["Type"] for e in failed["TaskStates"]["t"]["Events"]]
    replacement = wait_for(lambda: local.alloc(alloc["ID"])["NextAllocation"], "a replacement")
    wait_for(
        lambda: local.alloc(replacement)["ClientStatus"] == "running", "the replacement to run"
    )
    assert local.alloc(replacement)["RescheduleTracker"]["Events"][0]["PrevAllocID"] == alloc["ID"]


def test_kill_signal_then_sigkill_after_kill_timeout(local):
    stubborn = shell_job(
        "stubborn", "trap '' INT; echo ready; while :; do sleep 1; done", task='kill_timeout = "1s"'
    )
    polite = shell_job(
        "polite",
        "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.1; done",
        task='kill_signal = "SIGTERM"',
    )
    local.register(stubborn)
    local.register(polite)
    (hard,) = local.running("stubborn")
    (soft,) = local.running("polite")
    wait_for(lambda: "ready" in local.logs(hard["ID"]), "the stubborn task's trap")
    wait_for(lambda: "ready" in local.logs(soft["ID"]), "the polite task's trap")
    local.api.job.deregister_job("stubborn")
    local.api.job.deregister_job("polite")
    wait_for(
        lambda: ("Killed", "Task killed after kill_timeout") in local.events(hard["ID"]),
        "SIGKILL after the kill timeout",
    )
    wait_for(
        lambda: ("Killed", "Task successfully killed") in local.events(soft["ID"]),
        "a graceful exit on SIGTERM",
    )
    assert "bye" in local.logs(soft["ID"])


def test_a_failed_artifact_download_is_a_task_event(local, tmp_path):
    task = f"""
      artifact {{
        source = "{(tmp_path / "missing.tar.gz").as_uri()}"
        destination = "local/bundle"
      }}
    """
    local.register(shell_job("fetcher", "true", extra=RESTART_ONCE, task=task))
    alloc = wait_for(lambda: local.allocs("fetcher"), "an allocation")[0]
    wait_for(
        lambda: any(k == "Failed Artifact Download" for k, _ in local.events(alloc["ID"])),
        "the artifact failure",
    )


# --------------------------------------------------------------------------- batch, dispatch


def test_a_batch_job_reports_its_exit_code(local):
    no_retry = "restart { attempts = 0 }\nreschedule { attempts = 0 \n unlimited = false }"
    local.register(shell_job("ok", "echo done", kind="batch"))
    local.register(shell_job("bad", "echo failing >&2; exit 3", kind="batch", extra=no_retry))
    done = wait_for(
        lambda: (a := local.allocs("ok")) and a[0]["ClientStatus"] == "complete" and a[0],
        "the batch job to complete",
    )
    failed = wait_for(
        lambda: (a := local.allocs("bad")) and a[0]["ClientStatus"] == "failed" and a[0],
        "the failing batch job to fail",
    )
    terminated = [
        e
        for e in local.alloc(failed["ID"])["TaskStates"]["t"]["Events"]
        if e["Type"] == "Terminated"
    ]
    assert terminated[0]["ExitCode"] == 3 and terminated[0]["Details"]["exit_code"] == "3"
    assert "failing" in local.logs(failed["ID"], "stderr")
    assert "done" in local.logs(done["ID"])
    wait_for(lambda: local.api.job.get_job("ok")["Status"] == "dead", "the job to be dead")
    assert len(local.allocs("ok")) == 1  # a completed batch allocation is not replaced


def test_dispatch_writes_the_payload_and_meta_for_the_task(local):
    script = (
        'cat "$NOMAD_TASK_DIR/input.json"; echo " run=$NOMAD_META_run parent=$NOMAD_JOB_PARENT_ID"'
    )
    job = shell_job("train", script, kind="batch", task='dispatch_payload { file = "input.json" }')
    job = job.replace(
        'type = "batch"', 'type = "batch"\n  parameterized {\n    meta_required = ["run"]\n  }'
    )
    local.register(job)
    payload = base64.b64encode(b'{"lr": 0.1}').decode()
    answer = local.post("/v1/job/train/dispatch", {"Payload": payload, "Meta": {"run": "42"}})
    assert answer.ok, answer.text
    child = answer.json()["DispatchedJobID"]
    alloc = wait_for(
        lambda: (
            (a := local.api.job.get_allocations(child))
            and a[0]["ClientStatus"] == "complete"
            and a[0]
        ),
        "the dispatched child to complete",
    )
    assert local.logs(alloc["ID"]).strip() == '{"lr": 0.1} run=42 parent=train'


# --------------------------------------------------------------------------- logs


def test_logs_follow_streams_new_lines_and_frames_name_the_file(local):
    script = "i=0; while :; do i=$((i+1)); echo line-$i; sleep 0.2; done"
    local.register(shell_job("talker", script))
    (alloc,) = local.running("talker")
    wait_for(lambda: "line-2" in local.logs(alloc["ID"]), "some output")
    seen_at_connect = local.logs(alloc["ID"]).count("\n")
    headers = {"X-Nomad-Token": local.runtime.sim.management_token or ""}
    url = f"{local.base}/v1/client/fs/logs/{alloc['ID']}"
    params = {"task": "t", "type": "stdout", "follow": "true", "origin": "end", "offset": "0"}
    with requests.get(url, params=params, headers=headers, stream=True, timeout=30) as stream:
        received = b""
        for chunk in stream.iter_content(chunk_size=None):
            received += chunk
            if received.count(b"}") >= 2:
                break
    frames = [json.loads(f + "}") for f in received.decode().split("}") if f.strip()][:2]
    assert all(f["File"] == "alloc/logs/t.stdout.0" for f in frames)
    text = "".join(base64.b64decode(f["Data"]).decode() for f in frames)
    numbers = [int(line.split("-")[1]) for line in text.split() if line.startswith("line-")]
    assert numbers and min(numbers) > seen_at_connect - 1  # written after we connected


# --------------------------------------------------------------------------- resources


def test_gpus_from_nvml_are_given_to_one_allocation_each(local):
    gpu = 'device "nvidia/gpu" {\n count = 1\n }'
    local.register(
        shell_job("cuda", 'echo "gpus=$CUDA_VISIBLE_DEVICES"; exec sleep 300', resources=gpu)
    )
    (alloc,) = local.running("cuda")
    wait_for(lambda: "gpus=GPU-" in local.logs(alloc["ID"]), "the task's GPU variable")
    visible = local.logs(alloc["ID"]).strip().split("=", 1)[1]
    assert visible in ("GPU-1a2b", "GPU-3c4d")
    full = local.alloc(alloc["ID"])
    devices = full["AllocatedResources"]["Tasks"]["t"]["Devices"]
    assert devices[0]["DeviceIDs"] == [visible]


def test_a_job_larger_than_the_host_is_explained_by_plan(local):
    huge = psutil.virtual_memory().total // (1024 * 1024) + 1024
    job = local.api.jobs.parse(shell_job("huge", "true").replace("memory = 32", f"memory = {huge}"))
    plan = local.api.job.plan_job("huge", {"Job": job}, diff=True)
    failed = plan["FailedTGAllocs"]["g"]
    assert failed["DimensionExhausted"] == {"memory": 1}


def test_restart_and_signal_reach_the_real_process(local):
    script = "trap 'echo got-usr1' USR1; echo started; while :; do sleep 0.1; done"
    local.register(shell_job("worker", script, task='kill_signal = "SIGTERM"'))
    (alloc,) = local.running("worker")
    wait_for(lambda: "started" in local.logs(alloc["ID"]), "the trap to be set")
    first = local.pid(alloc["ID"])
    answer = local.post(f"/v1/client/allocation/{alloc['ID']}/signal", {"Signal": "SIGUSR1"})
    assert answer.ok, answer.text
    wait_for(lambda: "got-usr1" in local.logs(alloc["ID"]), "the signal to arrive")
    assert (
        local.post(f"/v1/client/allocation/{alloc['ID']}/signal", {"Signal": "SIGNOPE"}).status_code
        == 400
    )
    assert local.post(f"/v1/client/allocation/{alloc['ID']}/restart", {}).ok
    wait_for(
        lambda: (
            local.alloc(alloc["ID"])["TaskStates"]["t"]["Restarts"] == 1
            and local.alloc(alloc["ID"])["ClientStatus"] == "running"
            and (alloc["ID"], "t") in local.runtime.runner.procs
        ),
        "the task to restart in place",
    )
    assert local.pid(alloc["ID"]) != first
    assert not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE
    kinds = [kind for kind, _ in local.events(alloc["ID"])]
    assert kinds[-4:] == ["Restart Signaled", "Terminated", "Restarting", "Started"]
    assert local.logs(alloc["ID"]).count("started") == 2  # the same log files go on


def test_templates_read_the_jobs_own_variables_into_env_and_files(local):
    template = """
      template {
        data        = "{{ with nomadVar \\"nomad/jobs/mon\\" }}ROLE_ID={{ .role_id }}{{ end }}"
        destination = "secrets/approle.env"
        env         = true
      }
      template {
        data        = "level: info"
        destination = "local/monitor.yaml"
      }
    """
    script = 'echo "role=$ROLE_ID"; cat local/monitor.yaml; echo; exec sleep 300'
    local.register(shell_job("mon", script, task=template, extra=RESTART_ONCE))
    first = wait_for(lambda: local.allocs("mon"), "an allocation")[0]
    wait_for(
        lambda: any(
            kind == "Template" and "Missing: nomad.var.block(nomad/jobs/mon" in message
            for kind, message in local.events(first["ID"])
        ),
        "the missing variable to be reported",
    )
    local.api.variable.create_variable("nomad/jobs/mon", {"Items": {"role_id": "r-42"}})
    running = wait_for(
        lambda: [a for a in local.allocs("mon") if a["ClientStatus"] == "running"],
        "a running allocation once the variable exists",
    )[0]
    wait_for(lambda: "role=r-42" in local.logs(running["ID"]), "the rendered environment")
    assert "level: info" in local.logs(running["ID"])


def test_docker_tasks_are_not_placed_and_plan_says_why(local):
    docker = local.api.jobs.parse(
        'job "boxed" {\n group "g" {\n task "t" {\n driver = "docker"\n'
        ' config {\n image = "redis:7"\n }\n }\n }\n}\n'
    )
    plan = local.api.job.plan_job("boxed", {"Job": docker}, diff=True)
    assert plan["FailedTGAllocs"]["g"]["ConstraintFiltered"] == {"missing drivers": 1}
    node = local.api.nodes.get_nodes()[0]
    assert (
        node["Drivers"]["docker"]["Detected"] is False or not node["Drivers"]["docker"]["Healthy"]
    )
    assert node["Drivers"]["raw_exec"]["Healthy"] is True
