"""The install footprint (issue 14 §3): the core works without any extra, and a command
whose extra is missing names it in one line.

A missing package is simulated by putting ``None`` in ``sys.modules`` for its modules
in a fresh interpreter: Python then refuses to import it, exactly as when the package
is not installed.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from mlctl.errors import ExitStatus
from mlctl.extras import EXTRA_MODULES

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def _run_without(
    modules: set[str], args: list[str], cwd: Path = REPO
) -> subprocess.CompletedProcess:
    """``mlctl ARGS`` in a fresh interpreter where ``modules`` cannot be imported."""
    code = (
        "import sys\n"
        f"for name in {sorted(modules)!r}:\n"
        "    sys.modules[name] = None\n"
        "from mlctl.cli.main import main\n"
        f"main({args!r})\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )


ALL_EXTRA_MODULES = set().union(*EXTRA_MODULES.values())


def test_the_core_has_none_of_the_heavy_packages() -> None:
    core = _names(PYPROJECT["project"]["dependencies"])
    for extra in ("serve", "provision", "tui"):
        assert not core & _names(EXTRAS[extra]), extra
    assert "mlctl[serve,provision,tui]" in EXTRAS["dev"]
    assert "mlctl[serve,provision,tui]" in EXTRAS["all"]


@pytest.mark.parametrize("extra", ["serve", "provision", "tui"])
def test_every_package_of_an_extra_is_mapped_to_it(extra: str) -> None:
    """Each distribution in the extra provides a module that mlctl/extras.py names."""
    provided: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            provided.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    for requirement in EXTRAS[extra]:
        req = Requirement(requirement)
        if req.marker is not None and not req.marker.evaluate():
            continue
        modules = provided.get(req.name.lower().replace("_", "-"), set())
        assert modules & EXTRA_MODULES[extra], (extra, req.name, sorted(modules))


def test_every_command_help_works_on_the_core_alone() -> None:
    walk = (
        "import sys, click\n"
        f"for name in {sorted(ALL_EXTRA_MODULES)!r}:\n"
        "    sys.modules[name] = None\n"
        "from mlctl.cli.main import cli, main\n"
        "def paths(group, prefix=()):\n"
        "    ctx = click.Context(group)\n"
        "    for name in group.list_commands(ctx):\n"
        "        cmd = group.get_command(ctx, name)\n"
        "        yield (*prefix, name)\n"
        "        if isinstance(cmd, click.Group):\n"
        "            yield from paths(cmd, (*prefix, name))\n"
        "failed = []\n"
        "for path in paths(cli):\n"
        "    try:\n"
        "        main([*path, '--help'])\n"
        "    except SystemExit as done:\n"
        "        if done.code:\n"
        "            failed.append(path)\n"
        "print('FAILED', failed, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", walk], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert "FAILED []" in done.stderr, done.stderr[-2000:]


def test_bundles_validate_package_and_render_on_the_core_alone(tmp_path: Path) -> None:
    validated = _run_without(ALL_EXTRA_MODULES, ["model", "validate", "examples/iris"])
    assert validated.returncode == 0, validated.stderr
    assert "not inspected: skops is not installed here" in validated.stdout
    assert "pip install 'mlctl[serve]'" in validated.stdout
    packaged = _run_without(
        ALL_EXTRA_MODULES,
        ["-o", "json", "model", "package", "examples/iris", "--out", str(tmp_path)],
    )
    assert packaged.returncode == 0, packaged.stderr
    assert json.loads(packaged.stdout)["name"] == "iris"
    rendered = _run_without(ALL_EXTRA_MODULES, ["job", "render", "examples/iris"])
    assert rendered.returncode == 0, rendered.stderr
    assert 'job "mlctl-iris"' in rendered.stdout


@pytest.mark.parametrize(
    ("missing", "args", "extra"),
    [
        ({"uvicorn"}, ["serve", "--once", '{"features": [[5.1, 3.5, 1.4, 0.2]]}'], "serve"),
        ({"starlette", "uvicorn"}, ["serve", "examples/iris"], "serve"),
        ({"ansible_runner"}, ["cluster", "provision", "-i", "pyproject.toml"], "provision"),
        (
            {"ansible_runner"},
            ["cluster", "context", "-i", "pyproject.toml", "--name", "x"],
            "provision",
        ),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(
    missing: set[str], args: list[str], extra: str
) -> None:
    done = _run_without(missing, args)
    assert done.returncode == ExitStatus.CONFIG, done.stderr
    assert "Traceback" not in done.stderr and "ImportError" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("mlctl: error:")]
    assert len(errors) == 1, done.stderr
    if extra == "provision":  # nothing before it: the check comes before any progress line
        assert done.stderr.count("\n") == 1, done.stderr
    assert f"pip install 'mlctl[{extra}]'" in errors[0]
    assert f"the '{extra}' extra" in errors[0]


def test_an_unrelated_import_error_is_still_an_internal_error() -> None:
    from mlctl.extras import missing_extra

    assert missing_extra(ModuleNotFoundError("No module named 'x'", name="x")) is None
    mapped = missing_extra(ModuleNotFoundError("no", name="sklearn.tree"), "mlctl serve")
    assert mapped is not None and "pip install 'mlctl[serve]'" in (mapped.hint or "")


@pytest.mark.parametrize("dockerfile", ["Dockerfile.cpu", "Dockerfile.cuda"])
def test_runtime_images_install_only_the_serve_extra(dockerfile: str) -> None:
    text = (REPO / "docker" / dockerfile).read_text(encoding="utf-8")
    installs = [line for line in text.splitlines() if "pip install" in line and "mlctl" in line]
    assert installs, dockerfile
    assert all("[serve]" in line for line in installs), installs
    assert not any(word in text for word in ("[dev]", "[all]", "[provision]", "[tui]"))
