"""Fold ansible-runner events into per-host progress and a run summary.

Pure and synchronous: :meth:`RunState.apply` takes one event dict exactly as
ansible-runner hands it to ``event_handler`` and updates counters, so the live display
and the tests share one interpretation of Ansible's event stream. The final
``playbook_on_stats`` event is authoritative for the counts; the per-event counting
before it only drives the live display.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Counter names of ansible's stats event, and the names this module uses for them.
_STATS_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}
MESSAGE_LIMIT = 600


@dataclass
class HostProgress:
    """What one host has done so far."""

    name: str
    task: str = ""
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: int = 0
    rescued: int = 0
    ignored: int = 0

    @property
    def status(self) -> str:
        if self.unreachable:
            return "unreachable"
        return "failed" if self.failed else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.name,
            "status": self.status,
            "ok": self.ok,
            "changed": self.changed,
            "failed": self.failed,
            "skipped": self.skipped,
            "unreachable": self.unreachable,
            "rescued": self.rescued,
            "ignored": self.ignored,
        }


@dataclass(frozen=True)
class Failure:
    """One failed or unreachable task, said in plain words."""

    host: str
    task: str
    message: str
    unreachable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "task": self.task,
            "message": self.message,
            "unreachable": self.unreachable,
        }


@dataclass
class RunState:
    """Progress of one playbook run, updated event by event."""

    play: str = ""
    task: str = ""
    hosts: dict[str, HostProgress] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    finished: bool = False
    tasks_started: int = 0

    def host(self, name: str) -> HostProgress:
        if name not in self.hosts:
            self.hosts[name] = HostProgress(name)
        return self.hosts[name]

    @property
    def ok(self) -> bool:
        """Whether the run succeeded: it finished and no host failed or was unreachable."""
        return self.finished and all(h.status == "ok" for h in self.hosts.values())

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())

    def apply(self, event: Mapping[str, Any]) -> None:
        """Update the state from one ansible-runner event."""
        kind = str(event.get("event", ""))
        data: Mapping[str, Any] = event.get("event_data") or {}
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, data)

    def _play_start(self, data: Mapping[str, Any]) -> None:
        self.play = str(data.get("play") or data.get("name") or "")

    def _task_start(self, data: Mapping[str, Any]) -> None:
        self.task = _task_name(data)
        self.tasks_started += 1

    def _host_start(self, data: Mapping[str, Any]) -> None:
        self.host(str(data.get("host", "?"))).task = _task_name(data)

    def _stats(self, data: Mapping[str, Any]) -> None:
        """Replace the running counts with Ansible's own final tally."""
        for stats_key, attr in _STATS_KEYS.items():
            for host, count in (data.get(stats_key) or {}).items():
                setattr(self.host(str(host)), attr, int(count))
        for progress in self.hosts.values():
            progress.task = ""
        self.task = ""
        self.finished = True


def _host_result(counter: str) -> Callable[[RunState, Mapping[str, Any]], None]:
    """An event handler that counts one host result under ``counter``."""

    def update(state: RunState, data: Mapping[str, Any]) -> None:
        progress = state.host(str(data.get("host", "?")))
        res: Mapping[str, Any] = data.get("res") or {}
        if counter == "failed" and data.get("ignore_errors"):
            progress.ignored += 1
            return
        if counter == "ok" and res.get("changed"):
            progress.changed += 1
        setattr(progress, counter, getattr(progress, counter) + 1)
        if counter in {"failed", "unreachable"}:
            state.failures.append(
                Failure(
                    host=progress.name,
                    task=_task_name(data),
                    message=failure_message(res),
                    unreachable=counter == "unreachable",
                )
            )

    return update


def _task_name(data: Mapping[str, Any]) -> str:
    name = str(data.get("task") or data.get("name") or "").strip()
    role = str(data.get("role") or "").strip()
    if role and not name.startswith(f"{role} : "):
        return f"{role} : {name}"
    return name


def failure_message(res: Mapping[str, Any]) -> str:
    """The most useful line(s) Ansible gave for a failure, shortened for a terminal."""
    parts: list[str] = []
    for key in ("msg", "reason", "stderr", "module_stderr", "stdout", "module_stdout"):
        value = res.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
            break
    for item in res.get("results") or []:
        if isinstance(item, Mapping) and item.get("failed"):
            label = item.get("item")
            text = failure_message(item)
            parts.append(f"item {label!r}: {text}" if label is not None else text)
            break
    message = " — ".join(dict.fromkeys(parts)) or "no message from Ansible"
    message = " ".join(message.split())
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"


_HANDLERS: dict[str, Callable[[RunState, Mapping[str, Any]], None]] = {
    "playbook_on_play_start": RunState._play_start,
    "playbook_on_task_start": RunState._task_start,
    "playbook_on_handler_task_start": RunState._task_start,
    "runner_on_start": RunState._host_start,
    "runner_on_ok": _host_result("ok"),
    "runner_on_failed": _host_result("failed"),
    "runner_on_skipped": _host_result("skipped"),
    "runner_on_unreachable": _host_result("unreachable"),
    "playbook_on_stats": RunState._stats,
}
