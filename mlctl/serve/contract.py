"""Import a bundle's optional ``contract.py``: the seed 003 hooks, written by the user.

Running this file is the contract: the bundle's author supplies code that the server
calls, exactly as seed 003's generated wrapper did. Only the four known hook names are
picked up; anything else in the file is the author's business.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlctl.errors import InvalidInput

CONTRACT_FILENAME = "contract.py"
HOOK_NAMES = ("load", "preprocess", "predict", "postprocess", "on_prediction")


class ContractError(InvalidInput):
    """The bundle's contract.py could not be imported or defines a hook wrongly."""


@dataclass(frozen=True)
class Hooks:
    """The hooks a contract defines; ``None`` means the server's default applies."""

    load: Callable[[Path], Any] | None = None
    preprocess: Callable[[Any], Any] | None = None
    predict: Callable[[Any, Any], Any] | None = None
    postprocess: Callable[[Any], Any] | None = None
    #: Called off the request path with each answer's predictions; may return extra
    #: notifications (see mlctl.monitor.predictions).
    on_prediction: Callable[[Any], Any] | None = None


def import_contract(bundle_dir: Path) -> Hooks:
    """The hooks of ``bundle_dir/contract.py``, or no hooks when the file is absent.

    The bundle directory goes on ``sys.path`` so the contract can import helper modules
    shipped next to it. Import errors become a :class:`ContractError` naming the file.
    """
    path = bundle_dir / CONTRACT_FILENAME
    if not path.is_file():
        return Hooks()
    # A name unique to the file, so two bundles served in one process never collide.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"mlctl_contract_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ContractError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    bundle_path = str(bundle_dir.resolve())
    if bundle_path not in sys.path:
        sys.path.insert(0, bundle_path)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ContractError(
            f"{path}: importing it failed: {type(exc).__name__}: {exc}",
            hint="fix the file; run it with python to see the full traceback",
        ) from exc
    hooks: dict[str, Callable[..., Any]] = {}
    for name in HOOK_NAMES:
        hook = getattr(module, name, None)
        if hook is None:
            continue
        if not callable(hook):
            raise ContractError(f"{path}: {name}: must be a function, got {type(hook).__name__}")
        hooks[name] = hook
    return Hooks(**hooks)
