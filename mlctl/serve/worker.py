"""The app factory uvicorn's worker processes import (``--workers N``).

This is process-to-process hand-over, not configuration: the parent ``mlctl serve``
writes its resolved options into one environment variable just before uvicorn spawns
the workers, and each worker's factory reads them back. User-facing settings still
come only from mlctl.settings.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from starlette.applications import Starlette

from mlctl.serve.options import ServeOptions

OPTIONS_ENV = "MLCTL_SERVE_WORKER_OPTIONS"


def encode_options(options: ServeOptions) -> str:
    values = asdict(options)
    values["bundle_dir"] = str(options.bundle_dir)
    return json.dumps(values)


def decode_options(text: str) -> ServeOptions:
    values = json.loads(text)
    values["bundle_dir"] = Path(values["bundle_dir"])
    return ServeOptions(**values)


def app_from_env() -> Starlette:
    """uvicorn's ``factory=True`` entry point in each worker process."""
    from mlctl.serve.app import make_app

    text = os.environ.get(OPTIONS_ENV)
    if text is None:
        raise RuntimeError(f"{OPTIONS_ENV} is not set; start workers through `mlctl serve`")
    return make_app(decode_options(text))
