"""Where the data folders (jobspecs/, playbooks/, vault-policies/, examples/) live.

An installed wheel carries them under ``mlctl/_data``; a source checkout or an
editable install has them at the repository root. Either way ``mlctl`` works from
any directory.
"""

from __future__ import annotations

from pathlib import Path

from mlctl.errors import NotFound

_PACKAGE_DIR = Path(__file__).resolve().parent
_DATA_DIRS = ("jobspecs", "playbooks", "vault-policies", "examples")


def data_dir(name: str) -> Path:
    """The folder of one shipped data set, from the wheel or the source checkout."""
    if name not in _DATA_DIRS:
        raise ValueError(f"unknown data folder {name!r}")
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise NotFound(
        f"data folder {name}/ is missing from this installation",
        hint="reinstall mlctl: pip install --force-reinstall mlctl",
    )
