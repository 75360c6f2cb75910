"""Memory limits for raw_exec tasks through cgroup v2, where the runtime may use it.

Nomad's ``memory`` is a hard limit (``memory_max``, when set, raises the hard limit and
``memory`` becomes the soft one).  The runtime can enforce it only when it runs in a
cgroup v2 hierarchy whose memory controller is delegated to it (a systemd user
session with ``Delegate=yes``, or root on a pure cgroup v2 host).  cgroup v2 allows
no process in a cgroup whose children get controllers, so the runtime first moves
itself into ``<own cgroup>/runtime`` and then gives each task ``<own cgroup>/tasks/
<alloc>.<task>``.  Anywhere else limits are only recorded, and :attr:`Cgroups.reason`
says why; ``mlctl local status`` prints it.

An OOM kill shows in the task cgroup's ``memory.events`` (``oom_kill``), which is how
the runner reports ``OOM Killed`` like Nomad does.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

MIB = 1024 * 1024


def _own_cgroup(proc_self: Path) -> str | None:
    try:
        for line in (proc_self / "cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return line[3:]
    except OSError:
        return None
    return None


def _cgroup2_mount(proc_self: Path) -> Path | None:
    try:
        for line in (proc_self / "mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] == "cgroup2":
                return Path(left.split()[4])
    except OSError:
        return None
    return None


class Cgroups:
    """Detects whether limits can be enforced, then creates and inspects task cgroups."""

    def __init__(self, proc_self: Path = Path("/proc/self")) -> None:
        self.base: Path | None = None
        self.reason = ""
        mount = _cgroup2_mount(proc_self)
        own = _own_cgroup(proc_self)
        if mount is None or own is None:
            self.reason = "no cgroup v2 hierarchy (cgroup v1 or none)"
            return
        base = mount / own.lstrip("/")
        controllers = (base / "cgroup.controllers").read_text() if base.exists() else ""
        if "memory" not in controllers.split():
            self.reason = f"the memory controller is not delegated to {base}"
            return
        if not os.access(base, os.W_OK) or not os.access(base / "cgroup.procs", os.W_OK):
            self.reason = f"{base} is not writable by this user"
            return
        try:
            self._take_over(base)
        except OSError as exc:
            self.reason = f"cannot set up task cgroups under {base}: {exc.strerror}"
            return
        self.base = base

    @property
    def enforced(self) -> bool:
        return self.base is not None

    def describe(self) -> str:
        if self.base is not None:
            return f"enforced (cgroup v2 under {self.base / 'tasks'})"
        return f"not enforced: {self.reason}"

    @staticmethod
    def _take_over(base: Path) -> None:
        runtime = base / "runtime"
        runtime.mkdir(exist_ok=True)
        for pid in (base / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, OSError):
                (runtime / "cgroup.procs").write_text(pid)
        (base / "cgroup.subtree_control").write_text("+memory")
        tasks = base / "tasks"
        tasks.mkdir(exist_ok=True)
        (tasks / "cgroup.subtree_control").write_text("+memory")

    def create(self, name: str, memory_mb: int, memory_max_mb: int) -> Path | None:
        """A cgroup for one task with its limits, or None when limits are not enforced."""
        if self.base is None:
            return None
        path = self.base / "tasks" / name
        path.mkdir(exist_ok=True)
        hard = max(memory_mb, memory_max_mb) if memory_max_mb > 0 else memory_mb
        (path / "memory.max").write_text(str(hard * MIB))
        if memory_max_mb > memory_mb:
            (path / "memory.high").write_text(str(memory_mb * MIB))
        with contextlib.suppress(OSError):
            (path / "memory.swap.max").write_text("0")
        return path

    @staticmethod
    def oom_killed(path: Path | None) -> bool:
        if path is None:
            return False
        try:
            for line in (path / "memory.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            return False
        return False

    @staticmethod
    def kill_all(path: Path | None) -> None:
        """SIGKILL everything left in a task's cgroup (children that escaped the group)."""
        if path is None:
            return
        try:
            (path / "cgroup.kill").write_text("1")
            return
        except OSError:
            pass
        with contextlib.suppress(OSError):
            for pid in (path / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGKILL)

    @staticmethod
    def remove(path: Path | None) -> None:
        if path is not None:
            with contextlib.suppress(OSError):
                path.rmdir()

    @staticmethod
    def wrap(path: Path | None, argv: list[str]) -> list[str]:
        """Run ``argv`` inside the cgroup: a shell moves itself in, then execs the task."""
        if path is None:
            return argv
        script = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
        return ["/bin/sh", "-c", script, str(path), *argv]
