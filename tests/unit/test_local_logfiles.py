"""Task log files: Nomad's naming, copy-truncate rotation, max_files, reading across files."""

from __future__ import annotations

from mlctl.local.engine import logfiles
from mlctl.local.engine.logfiles import MIB, LogView, Position


def write(log_dir, data: bytes) -> None:
    with logfiles.open_current(log_dir, "server", "stdout") as handle:
        handle.write(data)


def test_rotation_keeps_the_writers_file_and_numbers_like_nomad(tmp_path):
    log_dir = tmp_path / "logs"
    live = logfiles.open_current(log_dir, "server", "stdout")  # the task's descriptor
    live.write(b"a" * MIB)
    live.flush()
    assert logfiles.rotate(log_dir, "server", "stdout", max_file_size_mb=1, max_files=10)
    live.write(b"after rotation\n")
    live.flush()
    live.close()
    assert logfiles.indexes(log_dir, "server", "stdout") == [0, 1]
    assert (log_dir / "server.stdout.0").read_bytes() == b"a" * MIB
    assert (log_dir / "server.stdout.1").read_bytes() == b"after rotation\n"


def test_small_files_are_not_rotated_and_old_ones_are_dropped(tmp_path):
    log_dir = tmp_path / "logs"
    write(log_dir, b"small")
    assert not logfiles.rotate(log_dir, "server", "stdout", 1, 2)
    for _ in range(3):
        write(log_dir, b"x" * MIB)
        logfiles.rotate(log_dir, "server", "stdout", 1, 2)
    assert logfiles.indexes(log_dir, "server", "stdout") == [2, 3]


def test_the_view_reads_all_files_as_one_stream(tmp_path):
    log_dir = tmp_path / "logs"
    (log_dir).mkdir()
    (log_dir / "server.stdout.0").write_bytes(b"one\n")
    (log_dir / "server.stdout.1").write_bytes(b"two\nthree\n")
    view = LogView(log_dir, "server", "stdout")
    pos = view.seek(0, "start")
    chunks = []
    while True:
        data, pos, index = view.read(pos, 3)
        if not data:
            break
        chunks.append((index, data))
    assert b"".join(d for _, d in chunks) == b"one\ntwo\nthree\n"
    assert {i for i, _ in chunks} == {0, 1}
    # origin=end: the last 6 bytes, found in the newest file
    tail = view.seek(6, "end")
    assert tail == Position(1, 4)
    assert view.read(tail, 100)[0] == b"three\n"
    assert view.file_name(1) == "alloc/logs/server.stdout.1"


def test_a_reader_moves_on_when_its_file_was_dropped(tmp_path):
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    (log_dir / "server.stderr.5").write_bytes(b"newest\n")
    view = LogView(log_dir, "server", "stderr")
    data, _, index = view.read(Position(2, 10), 100)  # file 2 is long gone
    assert (data, index) == (b"newest\n", 5)
