"""Optional parts of mlctl and the pip extras that install them.

``pip install mlctl`` is the client: it talks to Nomad and Vault, packages bundles,
renders jobs and runs ``mlctl local``. The heavy parts are extras (pyproject.toml):

``serve``      the model server that runs inside every Nomad task (``mlctl serve``)
``provision``  Ansible, for ``mlctl cluster provision`` and inventories it reads
``tui``        the Textual terminal UI
``train``      FLAML and its estimators, for ``mlctl train``
``jupyter``    JupyterLab, for Jupyter environments on ``mlctl local``

A command that needs a missing extra stops with one line naming it (status 3), instead
of an ImportError traceback: :func:`missing_extra` maps the module that failed to
import to its extra. ``tests/unit/test_extras.py`` keeps this table and pyproject.toml
in step.
"""

from __future__ import annotations

from mlctl.errors import ConfigError

#: Top-level modules that only an extra installs (the distributions' import names,
#: and what they pull in that mlctl imports directly).
EXTRA_MODULES: dict[str, frozenset[str]] = {
    "serve": frozenset(
        {
            "starlette",
            "uvicorn",
            "prometheus_client",
            "orjson",
            "uvloop",
            "httptools",
            "numpy",
            "sklearn",
            "scipy",
            "joblib",
            "skops",
            "onnxruntime",
        }
    ),
    "provision": frozenset({"ansible_runner", "ansible", "ansible_collections"}),
    "tui": frozenset({"textual"}),
    # numpy, scikit-learn and skops come with train too, but are mapped to serve above.
    "train": frozenset({"flaml", "lightgbm", "xgboost", "pandas", "pyarrow"}),
    "jupyter": frozenset({"jupyterlab"}),
}

#: What each extra is for, in the one-line error.
PURPOSE = {
    "serve": "the model server",
    "provision": "Ansible provisioning",
    "tui": "the terminal UI",
    "train": "the AutoML trials",
    "jupyter": "JupyterLab",
}


def extra_for(module: str) -> str | None:
    """The extra that installs ``module`` (a dotted name is looked up by its top level)."""
    top = module.partition(".")[0]
    return next((extra for extra, names in EXTRA_MODULES.items() if top in names), None)


def install_hint(extra: str) -> str:
    return f"pip install 'mlctl[{extra}]'"


def missing_extra(error: ImportError, command: str = "this command") -> ConfigError | None:
    """The one-line error for an import that failed because an extra is not installed."""
    module = getattr(error, "name", None) or ""
    extra = extra_for(module)
    if extra is None:
        return None
    return ConfigError(
        f"{command} needs {PURPOSE[extra]} (the '{extra}' extra): "
        f"Python module {module.partition('.')[0]} is not installed",
        hint=install_hint(extra),
        title="missing extra",
    )
