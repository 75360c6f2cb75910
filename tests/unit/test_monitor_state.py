"""A state file knows whether the saved state is still the version this process wrote."""

from __future__ import annotations

import os
from pathlib import Path

from mlctl.monitor.state import FileState


def test_a_state_file_is_ours_until_someone_else_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    ours = FileState(path)
    assert ours.load() is None and ours.still_ours()  # nothing saved, nothing changed
    ours.save({"version": 1, "alerts": []})
    assert ours.still_ours()
    other = FileState(path)
    other.save({"version": 1, "alerts": [{"fingerprint": "f"}]})
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a later write
    assert not ours.still_ours()
    assert ours.load() == {"version": 1, "alerts": [{"fingerprint": "f"}]}
    assert ours.still_ours()
