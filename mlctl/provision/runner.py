"""Run a playbook through ansible-runner, feeding every event to a callback.

Each run gets its own private data directory under the state dir
(``provision/<run id>/``, mode 0700). Extra variables go to Ansible through a 0600
file that is deleted when the run ends, never through the command line, because
they may hold passwords. The run's full output stays in ``artifacts/<run id>/stdout``
so a failure can point at it; the newest :data:`KEEP_RUNS` runs are kept.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlctl.errors import ConfigError, NotFound
from mlctl.provision.events import RunState

KEEP_RUNS = 20
REQUIRED_COLLECTIONS = ("community.general", "ansible.posix")


@dataclass(frozen=True)
class RunRequest:
    """What to run: a playbook against an inventory, with ansible-playbook's usual knobs."""

    playbook: Path
    inventory: Path
    limit: str | None = None
    tags: str | None = None
    skip_tags: str | None = None
    check: bool = False
    diff: bool = False
    extravars: Mapping[str, Any] = field(default_factory=dict)
    extravar_files: tuple[Path, ...] = ()
    forks: int | None = None


@dataclass
class RunResult:
    """How a run ended, with the folded event state and where its log is."""

    state: RunState
    status: str
    rc: int
    run_dir: Path
    log: Path
    ident: str
    seconds: float

    @property
    def ok(self) -> bool:
        """Success means Ansible finished cleanly AND worked on at least one host."""
        return self.rc == 0 and self.state.ok and bool(self.state.hosts)


def check_request(request: RunRequest) -> None:
    """Refuse a run that cannot start, with one line saying what is missing."""
    if not request.inventory.exists():
        raise NotFound(
            f"{request.inventory}: inventory does not exist",
            hint="write one with: mlctl cluster inventory HOSTS.yaml --out inventory.yml",
        )
    if not request.playbook.is_file():
        raise NotFound(f"{request.playbook}: playbook does not exist")
    for path in request.extravar_files:
        if not path.is_file():
            raise NotFound(f"{path}: extra-vars file does not exist")
    for collection in REQUIRED_COLLECTIONS:
        if importlib.util.find_spec(f"ansible_collections.{collection}") is None:
            raise ConfigError(
                f"the Ansible collection {collection} is not installed",
                hint="install the Ansible bundle that carries it: pip install 'ansible>=10'",
            )


def run_playbook(
    request: RunRequest,
    runs_dir: Path,
    on_event: Callable[[RunState, Mapping[str, Any]], None] | None = None,
) -> RunResult:
    """Run ``request`` and return its result; ``on_event`` sees the state after each event."""
    import ansible_runner

    check_request(request)
    started = datetime.datetime.now(datetime.UTC)
    ident = started.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    run_dir = _private_dir(runs_dir, ident)
    if request.extravars:
        write_extravars(run_dir, request.extravars)
    state = RunState()

    def handle(event: dict[str, Any]) -> bool:
        state.apply(event)
        if on_event is not None:
            on_event(state, event)
        return True  # keep the event in the artifacts as well

    try:
        runner = ansible_runner.run(
            private_data_dir=str(run_dir),
            ident=ident,
            playbook=str(request.playbook.resolve()),
            project_dir=str(request.playbook.resolve().parent),
            inventory=str(request.inventory.resolve()),
            limit=request.limit,
            tags=request.tags,
            skip_tags=request.skip_tags,
            forks=request.forks,
            cmdline=_cmdline(request),
            event_handler=handle,
            quiet=True,
            envvars={
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_NOCOLOR": "1",
                # An inventory Ansible cannot parse is an error, not "no hosts matched".
                "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
            },
        )
    finally:
        (run_dir / "env" / "extravars").unlink(missing_ok=True)
        _drop_environment(run_dir / "artifacts" / ident / "command")
        _prune(runs_dir)
    seconds = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
    log = run_dir / "artifacts" / ident / "stdout"
    return RunResult(state, str(runner.status), int(runner.rc), run_dir, log, ident, seconds)


def _private_dir(runs_dir: Path, ident: str) -> Path:
    """A fresh 0700 run directory; extra vars (maybe secret) go to env/extravars, 0600."""
    runs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    run_dir = runs_dir / ident
    (run_dir / "env").mkdir(parents=True, mode=0o700)
    run_dir.chmod(0o700)
    return run_dir


def write_extravars(run_dir: Path, values: Mapping[str, Any]) -> None:
    """Write extra vars where ansible-runner reads them, readable by the owner only."""
    path = run_dir / "env" / "extravars"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(dict(values), handle)


def _drop_environment(command_file: Path) -> None:
    """ansible-runner records the whole environment (tokens too) next to the command: drop it."""
    try:
        record = json.loads(command_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(record, dict) and record.pop("env", None) is not None:
        command_file.write_text(json.dumps(record), encoding="utf-8")


def _cmdline(request: RunRequest) -> str | None:
    words: list[str] = []
    if request.check:
        words.append("--check")
    if request.diff:
        words.append("--diff")
    for path in request.extravar_files:
        words += ["-e", f"@{path.resolve()}"]
    return " ".join(_quote(w) for w in words) or None


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)


def _prune(runs_dir: Path) -> None:
    """Keep the newest runs only; run ids sort by time."""
    runs = sorted(p for p in runs_dir.iterdir() if p.is_dir())
    for old in runs[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
