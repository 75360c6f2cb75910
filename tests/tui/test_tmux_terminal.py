"""The installed ``mlctl tui`` in a real terminal: tmux runs it, the test types and reads.

This is the only test that goes through the console script, a pseudo-terminal and the
terminal driver; the rest of the TUI's tests drive the app headless with Textual's pilot.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tui.conftest import register

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux (scripts/test.sh installs it: apt tmux)"
)
WAIT = 90.0


class Tmux:
    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return result.stdout

    def pane(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tui")

    def wait_for(self, *texts: str, shown: bool = True) -> str:
        """Wait until every text shows (or none does): Textual paints a screen in several
        writes, so one capture may hold the table before the connection bar."""
        deadline = time.monotonic() + WAIT
        screen = ""
        while time.monotonic() < deadline:
            screen = self.pane()
            if all((text in screen) == shown for text in texts):
                return screen
            time.sleep(0.2)
        what = "showed" if shown else "stopped showing"
        raise AssertionError(f"the terminal never {what} {texts!r}; it showed:\n{screen}")


def mlctl_script() -> str:
    found = Path(sys.executable).parent / "mlctl"
    return str(found) if found.exists() else str(shutil.which("mlctl"))


def test_installed_mlctl_tui_starts_and_quits_cleanly_in_a_real_terminal(cluster, tmp_path):
    register(cluster, "iris")
    tmux = Tmux(tmp_path / "tmux.sock")
    status_file = tmp_path / "status"
    env = {
        "NOMAD_ADDR": cluster.address,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / ".config"),
        "XDG_STATE_HOME": str(tmp_path / ".state"),
        "TERM": "xterm-256color",
        "PATH": "/usr/bin:/bin",
    }
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = (
        f"env -i {assignments} {shlex.quote(mlctl_script())} tui; "
        f"echo $? > {shlex.quote(str(status_file))}; sleep 30"
    )
    tmux.run("new-session", "-d", "-s", "tui", "-x", "160", "-y", "45", command)
    try:
        tmux.wait_for("1/1/1", "iris", "Nomad " + cluster.address)
        tmux.run("send-keys", "-t", "tui", "?")
        tmux.wait_for("Help: Models")
        tmux.run("send-keys", "-t", "tui", "Escape")
        tmux.wait_for("Help: Models", shown=False)  # a key right after Escape would be alt+key
        tmux.run("send-keys", "-t", "tui", "2")
        tmux.wait_for("ELIGIBILITY")
        tmux.run("send-keys", "-t", "tui", "q")
        deadline = time.monotonic() + WAIT
        while not status_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status_file.read_text().strip() == "0", tmux.pane()
        after = tmux.pane()
        assert "Traceback" not in after
        assert "ELIGIBILITY" not in after  # the terminal was given back (alternate screen left)
    finally:
        tmux.run("kill-server")


def test_mlctl_tui_without_a_terminal_says_so_in_one_line(cluster):
    result = subprocess.run(
        [mlctl_script(), "tui"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
        env={"NOMAD_ADDR": cluster.address, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mlctl: error: mlctl tui needs an interactive terminal (stdin and stdout) (run it in a "
        "terminal; for scripts use mlctl status, alerts or events)"
    ]
