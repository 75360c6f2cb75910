"""Where the bundle to serve comes from: a directory, a .tar.gz, or the shipped example."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mlctl.errors import InvalidInput, NotFound
from mlctl.output import note
from mlctl.paths import data_dir

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


@contextlib.contextmanager
def opened_bundle(bundle: Path | None) -> Iterator[Path]:
    """A bundle directory for the duration of the block; archives unpack to a temp dir."""
    if bundle is None:
        example = data_dir("examples") / "iris"
        note(f"no BUNDLE given: serving the shipped example {example}")
        yield example
        return
    if bundle.is_dir():
        yield bundle.resolve()
        return
    if not bundle.exists():
        raise NotFound(f"{bundle}: no such bundle directory or archive")
    if not bundle.name.endswith(ARCHIVE_SUFFIXES):
        raise InvalidInput(
            f"{bundle}: a bundle is a directory or a .tar.gz made by mlctl model package"
        )
    from mlctl.bundle.unpack import safe_unpack

    with tempfile.TemporaryDirectory(prefix="mlctl-serve-") as scratch:
        target = Path(scratch) / "bundle"
        safe_unpack(bundle, target)
        yield target
