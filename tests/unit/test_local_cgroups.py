"""cgroup v2 memory limits: detection, per-task limits, OOM detection, the wrapper."""

from __future__ import annotations

from pathlib import Path

from mlctl.local.engine.cgroups import MIB, Cgroups


def fake_host(tmp_path: Path, controllers: str) -> tuple[Path, Path]:
    """A /proc/self and a cgroup2 mount under tmp_path, the runtime in /user.slice/mlctl."""
    mount = tmp_path / "cgroup"
    own = mount / "user.slice" / "mlctl"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text(controllers)
    (own / "cgroup.procs").write_text("4242\n")
    (own / "cgroup.subtree_control").write_text("")
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text("0::/user.slice/mlctl\n")
    (proc / "mountinfo").write_text(
        f"30 23 0:26 / {mount} rw,nosuid shared:4 - cgroup2 cgroup2 rw\n"
    )
    return proc, own


def test_delegated_memory_controller_enforces_limits(tmp_path):
    proc, own = fake_host(tmp_path, "cpu memory pids")
    cgroups = Cgroups(proc)
    assert cgroups.enforced, cgroups.reason
    assert (own / "runtime" / "cgroup.procs").read_text() == "4242"  # the runtime moved itself
    assert (own / "cgroup.subtree_control").read_text() == "+memory"
    path = cgroups.create("alloc-1.server", memory_mb=256, memory_max_mb=0)
    assert path == own / "tasks" / "alloc-1.server"
    assert (path / "memory.max").read_text() == str(256 * MIB)
    soft = cgroups.create("alloc-2.server", memory_mb=256, memory_max_mb=1024)
    assert (soft / "memory.max").read_text() == str(1024 * MIB)
    assert (soft / "memory.high").read_text() == str(256 * MIB)
    assert "enforced" in cgroups.describe()


def test_oom_kills_are_read_from_memory_events(tmp_path):
    events = tmp_path / "task"
    events.mkdir()
    (events / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n")
    assert not Cgroups.oom_killed(events)
    (events / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n")
    assert Cgroups.oom_killed(events)
    assert not Cgroups.oom_killed(None)


def test_without_the_memory_controller_limits_are_only_recorded(tmp_path):
    proc, _ = fake_host(tmp_path, "cpu pids")
    cgroups = Cgroups(proc)
    assert not cgroups.enforced
    assert cgroups.create("a.server", 256, 0) is None
    assert cgroups.describe().startswith("not enforced: the memory controller is not delegated")


def test_cgroup_v1_hosts_are_not_enforced(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text("4:memory:/x\n")
    (proc / "mountinfo").write_text("30 23 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw\n")
    assert Cgroups(proc).describe() == "not enforced: no cgroup v2 hierarchy (cgroup v1 or none)"


def test_the_task_enters_its_cgroup_before_exec():
    argv = Cgroups.wrap(Path("/cg/tasks/a.server"), ["/usr/bin/python3", "-m", "x"])
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[3:] == ["/cg/tasks/a.server", "/usr/bin/python3", "-m", "x"]
    assert Cgroups.wrap(None, ["a"]) == ["a"]
