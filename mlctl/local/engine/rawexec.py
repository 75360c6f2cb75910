"""The ``raw_exec`` driver: tasks are real processes of the user who runs the runtime.

As Nomad's raw_exec runs them: ``config { command, args }`` with ``${...}``
interpolation, in the task directory (``<data>/allocs/<alloc>/<task>``) with
``local/``, ``secrets/``, ``tmp/`` and the shared ``alloc/{data,logs,tmp}``, the
``NOMAD_*`` environment on top of the host's (minus a deny list), artifacts fetched and
verified before the start, a ``dispatch_payload`` written into ``local/``, stdout and
stderr into rotated files under ``alloc/logs``.  Each task gets its own process group
(and, where the host allows, its own cgroup with the memory limit); stopping sends
``kill_signal`` (SIGINT by default, like Nomad) to the group, then SIGKILL after
``kill_timeout`` (capped at 30 s, Nomad's ``max_kill_timeout``).

Starting and stopping happen on worker threads (downloads and grace periods must not
hold the engine's lock); what they find is recorded back under the lock.  Handles
(pid, process start time, cgroup) live in the allocation, so a restarted runtime
re-adopts processes that kept running (:meth:`RawExecRunner.adopt`).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal as signals
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from . import logfiles
from .alloc import Alloc, task_event
from .cgroups import Cgroups
from .checks import Checker, specs_for
from .fetch import ArtifactError, fetch
from .taskenv import TaskPaths, interpolate_value, nomad_variables, task_environment
from .templates import TemplateError, render_task_templates

if TYPE_CHECKING:
    from .lifecycle import Lifecycle

JSON = dict[str, Any]
MAX_KILL_TIMEOUT = 30.0
LOG_ROTATE_EVERY = 5.0  # seconds between log size checks (files may overshoot a little)
DEFAULT_KILL_SIGNAL = "SIGINT"


class StartError(Exception):
    """A task could not start; ``kind`` is the task event type Nomad would record."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Proc:
    """A running task process: our child (``popen``) or one re-adopted after a restart."""

    pid: int
    create_time: float
    popen: subprocess.Popen[bytes] | None = None
    cgroup: Path | None = None
    restarting: bool = False
    """Killed by a user-requested restart: start again without the restart policy."""

    def exit_status(self) -> tuple[int, int] | None:
        """(exit code, signal) once the process ended, else None."""
        if self.popen is not None:
            code = self.popen.poll()
            if code is None:
                return None
            return (128 - code, -code) if code < 0 else (code, 0)
        if _alive(self.pid, self.create_time):
            return None
        return (-1, 0)  # not our child: the exit status went to its new parent


def _alive(pid: int, create_time: float) -> bool:
    try:
        process = psutil.Process(pid)
        return (
            abs(process.create_time() - create_time) < 0.01
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        return False


def _signal_number(name: str | None) -> int:
    value = getattr(signals, (name or DEFAULT_KILL_SIGNAL).upper(), None)
    return int(value) if isinstance(value, int) else int(signals.SIGINT)


def _task(alloc: Alloc, name: str) -> JSON:
    return next(t for t in alloc.group()["Tasks"] if t["Name"] == name)


class RawExecRunner:
    """Runs tasks as processes; one per engine.  Methods are called with the lock held."""

    name = "raw_exec"
    start_delay = 0.0

    def __init__(
        self,
        data_dir: Path,
        lock: threading.RLock,
        cgroups: Cgroups | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.alloc_root = data_dir / "allocs"
        self.lock = lock
        self.cgroups = cgroups or Cgroups()
        self.environ = dict(os.environ if environ is None else environ)
        self.checker = Checker()
        self.procs: dict[tuple[str, str], Proc] = {}
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="raw_exec")
        self._rotated_at: dict[str, float] = {}
        self.read_variable: Callable[[str, str], Mapping[str, str] | None] = lambda ns, path: None
        """How templates read Nomad variables (the runtime wires the engine's store in)."""
        self.closing = False
        """Set by ``kill_everything``: a start that finishes afterwards is killed at once."""

    def close(self) -> None:
        self.checker.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ---------------------------------------------------------------- paths

    def alloc_dir(self, alloc_id: str) -> Path:
        return self.alloc_root / alloc_id

    def log_dir(self, alloc_id: str) -> Path:
        return self.alloc_dir(alloc_id) / "alloc" / "logs"

    def _paths(self, alloc: Alloc, task: str) -> TaskPaths:
        base = self.alloc_dir(alloc.id)
        task_dir = base / task
        return TaskPaths(
            alloc_dir=str(base / "alloc"),
            task_dir=str(task_dir),
            local_dir=str(task_dir / "local"),
            secrets_dir=str(task_dir / "secrets"),
            tmp_dir=str(task_dir / "tmp"),
        )

    # ---------------------------------------------------------------- start

    def start(self, lc: Lifecycle, alloc: Alloc, now: float) -> None:
        now_ns = lc.cluster.now_ns()
        names = [n for n, s in alloc.task_states.items() if s["State"] != "running"]
        first = alloc.phase == "received"
        for name in names:
            if first:
                lc.setup_events(alloc, name, now_ns)
        alloc.phase = "starting"
        lc.cluster.touch_alloc(alloc)
        plans = [self._plan(lc, alloc, name) for name in names]
        self.pool.submit(self._start_tasks, lc, alloc, plans, first)

    def _plan(self, lc: Lifecycle, alloc: Alloc, name: str) -> JSON:
        """Everything a start needs, copied under the lock for the worker thread."""
        task = _task(alloc, name)
        paths = self._paths(alloc, name)
        alloc_view = {
            "ID": alloc.id,
            "Name": alloc.name,
            "Index": alloc.index,
            "Namespace": alloc.namespace,
        }
        nomad_env = nomad_variables(
            alloc_view,
            alloc.job,
            alloc.group(),
            task,
            alloc.node,
            alloc.offer.ports,
            alloc.offer.devices.get(name) or [],
            paths,
        )
        env = task_environment(self.environ, nomad_env, task, alloc.node)
        return {
            "name": name,
            "task": task,
            "paths": paths,
            "env": env,
            "node": alloc.node,
            "payload": alloc.job.get("Payload"),
            "namespace": alloc.namespace,
            "job_id": alloc.job_id,
            # A dispatched child's workload identity names its parent job (Nomad's
            # implicit variable access covers nomad/jobs/<parent>).
            "identity_job_id": alloc.job.get("ParentID") or alloc.job_id,
            "cgroup_name": f"{alloc.id}.{name}",
        }

    def _start_tasks(self, lc: Lifecycle, alloc: Alloc, plans: list[JSON], first: bool) -> None:
        outcomes: list[tuple[str, Proc | StartError]] = []
        for plan in plans:
            try:
                outcomes.append((plan["name"], self._launch(plan, first)))
            except StartError as exc:
                outcomes.append((plan["name"], exc))
            except Exception as exc:  # a bug must fail the task, not kill the worker
                outcomes.append((plan["name"], StartError("Driver Failure", f"{exc}")))
        with self.lock:
            self._record_start(lc, alloc, outcomes)

    def _launch(self, plan: JSON, first: bool) -> Proc:
        task, paths, env, node = plan["task"], plan["paths"], plan["env"], plan["node"]
        for directory in (
            Path(paths.alloc_dir) / "data",
            Path(paths.alloc_dir) / "logs",
            Path(paths.alloc_dir) / "tmp",
            Path(paths.local_dir),
            Path(paths.tmp_dir),
        ):
            directory.mkdir(parents=True, exist_ok=True)
        Path(paths.secrets_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        if first:
            for artifact in task.get("Artifacts") or []:
                try:
                    fetch(interpolate_value(artifact, env, node), Path(paths.task_dir))
                except ArtifactError as exc:
                    raise StartError("Failed Artifact Download", str(exc)) from exc
            self._write_payload(task, plan["payload"], paths)
        try:
            env.update(
                render_task_templates(
                    task,
                    Path(paths.task_dir),
                    env,
                    self.read_variable,
                    plan["namespace"],
                    plan["identity_job_id"],
                )
            )
        except TemplateError as exc:
            raise StartError("Template", str(exc)) from exc
        config = interpolate_value(task.get("Config") or {}, env, node)
        command = config.get("command")
        if not isinstance(command, str) or not command:
            raise StartError("Driver Failure", 'raw_exec: Missing required argument "command"')
        args = [str(a) for a in config.get("args") or []]
        executable = self._resolve(command, Path(paths.task_dir), env)
        resources = task.get("Resources") or {}
        cgroup = None
        with contextlib.suppress(OSError):
            cgroup = self.cgroups.create(
                plan["cgroup_name"],
                int(resources.get("MemoryMB") or 0),
                int(resources.get("MemoryMaxMB") or 0),
            )
        log_dir = Path(paths.alloc_dir) / "logs"
        stdout = logfiles.open_current(log_dir, task["Name"], "stdout")
        stderr = logfiles.open_current(log_dir, task["Name"], "stderr")
        try:
            popen = subprocess.Popen(
                Cgroups.wrap(cgroup, [executable, *args]),
                cwd=paths.task_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group, out of the terminal's
                close_fds=True,
            )
        except OSError as exc:
            Cgroups.remove(cgroup)
            raise StartError(
                "Driver Failure", f"failed to launch command {command!r}: {exc.strerror}"
            ) from exc
        finally:
            stdout.close()
            stderr.close()
        try:
            created = psutil.Process(popen.pid).create_time()
        except psutil.Error:
            created = time.time()
        return Proc(popen.pid, created, popen, cgroup)

    @staticmethod
    def _resolve(command: str, task_dir: Path, env: dict[str, str]) -> str:
        if "/" in command:
            path = (task_dir / command) if not command.startswith("/") else Path(command)
            if not path.exists():
                raise StartError(
                    "Driver Failure", f'failed to launch command: "{command}": no such file'
                )
            return str(path)
        found = shutil.which(command, path=env.get("PATH"))
        if found is None:
            raise StartError(
                "Driver Failure",
                f'failed to launch command: exec: "{command}": executable file not found in $PATH',
            )
        return found

    @staticmethod
    def _write_payload(task: JSON, payload: str | None, paths: TaskPaths) -> None:
        target = (task.get("DispatchPayload") or {}).get("File")
        if not target or payload is None:
            return
        local = Path(paths.local_dir).resolve()
        path = (local / str(target)).resolve()
        if local not in path.parents:
            raise StartError("Setup Failure", f"dispatch_payload file escapes local/: {target}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(payload))

    def _record_start(
        self, lc: Lifecycle, alloc: Alloc, outcomes: list[tuple[str, Proc | StartError]]
    ) -> None:
        now = lc.cluster.store.clock.now()
        now_ns = lc.cluster.now_ns()
        for name, outcome in outcomes:
            if isinstance(outcome, Proc):
                if self.closing:
                    kill_process(outcome, signals.SIGKILL, 0.0)  # the runtime is stopping
                    continue
                if alloc.desired_status != "run" or alloc.terminal:
                    self._kill_async(lc, alloc, name, outcome)  # stopped while starting
                    continue
                self.procs[(alloc.id, name)] = outcome
                alloc.handles[name] = {
                    "pid": outcome.pid,
                    "create_time": outcome.create_time,
                    "cgroup": str(outcome.cgroup) if outcome.cgroup else None,
                }
                lc.task_started(alloc, name, now_ns)
            else:
                field = (
                    "DownloadError" if outcome.kind == "Failed Artifact Download" else "DriverError"
                )
                details = {
                    "download_error"
                    if field == "DownloadError"
                    else "driver_error": outcome.message
                }
                alloc.task_states[name]["Events"].append(
                    task_event(
                        outcome.kind, outcome.message, now_ns, details, **{field: outcome.message}
                    )
                )
                lc.task_failed(alloc, name, now)
        if alloc.desired_status == "run" and lc.all_running(alloc):
            lc.alloc_running(alloc, now)
            self.checker.register(
                specs_for(
                    {"ID": alloc.id, "Name": alloc.name},
                    alloc.group(),
                    alloc.offer.ports,
                    alloc.node["Attributes"].get("unique.network.ip-address", "127.0.0.1"),
                )
            )
        elif alloc.phase == "starting":
            alloc.phase = "running" if alloc.client_status == "running" else alloc.phase
        lc.cluster.touch_alloc(alloc)

    # ---------------------------------------------------------------- watch

    def poll(self, lc: Lifecycle, alloc: Alloc, now: float) -> None:
        if alloc.phase == "starting":
            return
        for name in list(alloc.task_states):
            proc = self.procs.get((alloc.id, name))
            if proc is None:
                continue
            status = proc.exit_status()
            if status is None:
                continue
            del self.procs[(alloc.id, name)]
            alloc.handles.pop(name, None)
            oom = Cgroups.oom_killed(proc.cgroup)
            Cgroups.kill_all(proc.cgroup)
            Cgroups.remove(proc.cgroup)
            code, sig = status
            if proc.restarting:
                self._restarted(lc, alloc, name, code, sig)
                continue
            self.checker.unregister(alloc.id)
            lc.terminate(alloc, name, 137 if oom else code, oom=oom, signal=sig)
        if time.monotonic() - self._rotated_at.get(alloc.id, 0.0) >= LOG_ROTATE_EVERY:
            self._rotated_at[alloc.id] = time.monotonic()
            self._rotate_logs(alloc)

    def _rotate_logs(self, alloc: Alloc) -> None:
        for task in alloc.group()["Tasks"]:
            config = task.get("LogConfig") or {}
            for stream in logfiles.STREAMS:
                logfiles.rotate(
                    self.log_dir(alloc.id),
                    task["Name"],
                    stream,
                    int(config.get("MaxFileSizeMB") or 10),
                    int(config.get("MaxFiles") or 10),
                )

    def ready_since(self, alloc: Alloc, now: float) -> float | None:
        if alloc.running_since is None:
            return None
        mode = (alloc.group().get("Update") or {}).get("HealthCheck") or "checks"
        if mode == "manual":
            return None
        has_checks, since = self.checker.passing_since(alloc.id)
        if mode == "task_states" or not has_checks:
            return alloc.running_since
        if since is None:
            return None
        # the checker measures in monotonic seconds, the lifecycle on the engine's clock
        return max(alloc.running_since, now - (time.monotonic() - since))

    def check_results(self, alloc: Alloc) -> dict[str, JSON]:
        return self.checker.results(alloc.id)

    # ---------------------------------------------------------------- stop, restart, signal

    def stop(self, lc: Lifecycle, alloc: Alloc) -> bool:
        self.checker.unregister(alloc.id)
        self._rotated_at.pop(alloc.id, None)
        procs = [
            (n, self.procs.pop((alloc.id, n)))
            for n in list(alloc.task_states)
            if (alloc.id, n) in self.procs
        ]
        for name, proc in procs:
            self._kill_async(lc, alloc, name, proc)  # the handle goes once it is dead
        return not procs

    def _kill_async(self, lc: Lifecycle, alloc: Alloc, name: str, proc: Proc) -> None:
        task = _task(alloc, name)
        timeout = min(MAX_KILL_TIMEOUT, (task.get("KillTimeout") or 0) / 1e9)
        sig = _signal_number(task.get("KillSignal"))
        self.pool.submit(self._kill, lc, alloc, name, proc, sig, timeout)

    def _kill(
        self, lc: Lifecycle, alloc: Alloc, name: str, proc: Proc, sig: int, timeout: float
    ) -> None:
        graceful = kill_process(proc, sig, timeout)
        with self.lock:
            now_ns = lc.cluster.now_ns()
            message = "Task successfully killed" if graceful else "Task killed after kill_timeout"
            alloc.task_states[name]["Events"].append(task_event("Killed", message, now_ns))
            if alloc.handles.get(name, {}).get("pid") == proc.pid:
                alloc.handles.pop(name, None)
            Cgroups.remove(proc.cgroup)
            lc.cluster.touch_alloc(alloc)

    def restart(self, lc: Lifecycle, alloc: Alloc, tasks: list[str]) -> None:
        now_ns = lc.cluster.now_ns()
        reason = "User requested restart"
        for name in tasks:
            proc = self.procs.get((alloc.id, name))
            if proc is None:
                continue
            proc.restarting = True
            alloc.task_states[name]["Events"].append(
                task_event(
                    "Restart Signaled",
                    reason,
                    now_ns,
                    {"restart_reason": reason},
                    RestartReason=reason,
                )
            )
            task = _task(alloc, name)
            timeout = min(MAX_KILL_TIMEOUT, (task.get("KillTimeout") or 0) / 1e9)
            self.pool.submit(kill_process, proc, _signal_number(task.get("KillSignal")), timeout)

    def _restarted(self, lc: Lifecycle, alloc: Alloc, name: str, code: int, sig: int) -> None:
        now_ns = lc.cluster.now_ns()
        state = alloc.task_states[name]
        state["Events"].append(
            task_event(
                "Terminated",
                f"Exit Code: {code}",
                now_ns,
                {"exit_code": code, "signal": sig},
                ExitCode=code,
                Signal=sig,
            )
        )
        state["Events"].append(
            task_event(
                "Restarting",
                "Task restarting in 0s",
                now_ns,
                {"restart_reason": "User requested restart", "start_delay": 0},
                RestartReason="User requested restart",
            )
        )
        state["Restarts"] += 1
        state["LastRestart"] = now_ns
        state["State"] = "pending"
        alloc.running_since = None
        alloc.phase = "restarting"
        alloc.next_at = lc.cluster.store.clock.now()
        self.checker.unregister(alloc.id)

    def signal(self, alloc: Alloc, tasks: list[str], signal: str) -> None:
        number = _signal_number(signal)
        for name in tasks:
            proc = self.procs.get((alloc.id, name))
            if proc is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, number)

    # ---------------------------------------------------------------- after a restart

    def adopt(self, lc: Lifecycle, alloc: Alloc) -> list[str]:
        """Take back the processes of an allocation after the runtime restarted.

        Returns the tasks whose process is gone (the runtime was stopped or the host
        rebooted): the caller starts those again.
        """
        lost = []
        for name, state in alloc.task_states.items():
            handle = alloc.handles.get(name)
            if state["State"] != "running":
                continue
            if handle and _alive(int(handle["pid"]), float(handle["create_time"])):
                cgroup = Path(handle["cgroup"]) if handle.get("cgroup") else None
                self.procs[(alloc.id, name)] = Proc(
                    int(handle["pid"]), float(handle["create_time"]), None, cgroup
                )
            else:
                alloc.handles.pop(name, None)
                lost.append(name)
        if not lost and alloc.phase == "running":
            self.checker.register(
                specs_for(
                    {"ID": alloc.id, "Name": alloc.name},
                    alloc.group(),
                    alloc.offer.ports,
                    alloc.node["Attributes"].get("unique.network.ip-address", "127.0.0.1"),
                )
            )
        return lost

    def kill_everything(self, lc: Lifecycle) -> None:
        """``mlctl local down``: every task gets its kill signal, all in parallel."""
        with self.lock:
            self.closing = True
            work = []
            for (alloc_id, name), proc in list(self.procs.items()):
                alloc = lc.cluster.allocs.get(alloc_id)
                task = _task(alloc, name) if alloc else {}
                timeout = min(MAX_KILL_TIMEOUT, (task.get("KillTimeout") or 0) / 1e9)
                work.append((proc, _signal_number(task.get("KillSignal")), timeout))
            self.procs.clear()
        threads = [threading.Thread(target=kill_process, args=item) for item in work]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(MAX_KILL_TIMEOUT + 5)


def kill_process(proc: Proc, sig: int, timeout: float) -> bool:
    """Send ``sig`` to the task's process group, SIGKILL after ``timeout``; True if it
    exited within the grace period."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.exit_status() is not None:
            Cgroups.kill_all(proc.cgroup)
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signals.SIGKILL)
    Cgroups.kill_all(proc.cgroup)
    if proc.popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=5)
    return False
