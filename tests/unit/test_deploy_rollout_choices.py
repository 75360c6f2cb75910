"""Pure pieces of issue 14's rollout choices: the bundle's update section, --canary in
the rendered job, and which replica count a deploy registers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlctl.bundle.validate import validate_bundle
from mlctl.deploy.replicas import choose_replicas
from tests.cli_runner import run_cli


def _with_update(bundle: Path, update: dict) -> Path:
    path = bundle / "mlctl.yaml"
    data = yaml.safe_load(path.read_text())
    data["update"] = update
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return bundle


@pytest.mark.parametrize(
    ("update", "words"),
    [
        ({"canary": -1}, "update.canary: Input should be greater than or equal to 0"),
        ({"canary": "two"}, "update.canary"),
        ({"auto_promote": True}, "auto_promote needs canary: 1 or more"),
        ({"healthy_deadline": "5 minutes"}, "update.healthy_deadline"),
        ({"healthy_deadline": "10m", "progress_deadline": "5m"}, "must be longer than"),
        ({"max_parallel": 0}, "update.max_parallel"),
        ({"canaries": 1}, "update.canaries: unknown field"),
    ],
)
def test_the_update_section_is_checked(iris_bundle: Path, update: dict, words: str) -> None:
    problems = [str(p) for p in validate_bundle(_with_update(iris_bundle, update)).errors]
    assert any(words in p for p in problems), problems


def test_a_valid_update_section_renders_into_the_job(iris_bundle: Path) -> None:
    bundle = _with_update(iris_bundle, {"canary": 2, "auto_promote": True, "max_parallel": 2})
    assert not validate_bundle(bundle).errors
    hcl = run_cli(["job", "render", str(bundle)]).stdout
    assert "canary            = 2" in hcl
    assert "auto_promote      = true" in hcl
    assert "max_parallel      = 2" in hcl


def test_the_canary_flag_overrides_the_bundle(iris_bundle: Path) -> None:
    bundle = _with_update(iris_bundle, {"canary": 2, "auto_promote": True})
    hcl = run_cli(["job", "render", str(bundle), "--canary", "0"]).stdout
    assert "canary            = 0" in hcl
    assert "auto_promote      = false" in hcl  # nothing to promote without canaries
    assert (
        "canary            = 3" in run_cli(["job", "render", str(bundle), "--canary", "3"]).stdout
    )


def test_without_an_update_section_nothing_changes(iris_bundle: Path) -> None:
    hcl = run_cli(["job", "render", str(iris_bundle)]).stdout
    assert "canary            = 0" in hcl and "max_parallel      = 1" in hcl


@pytest.mark.parametrize(
    ("bundle", "flag", "live", "reset", "count", "source", "noted"),
    [
        (1, None, None, False, 1, "bundle", False),  # a new job
        (1, None, 3, False, 3, "live", True),  # scaled by hand: kept, and said
        (1, None, 1, False, 1, "bundle", False),  # nothing to keep
        (1, None, 3, True, 1, "bundle", False),  # --reset-replicas
        (1, 5, 3, False, 5, "flag", False),  # --replicas wins
        (2, None, 0, False, 0, "live", True),  # scaled to zero stays at zero
    ],
)
def test_which_count_a_deploy_registers(bundle, flag, live, reset, count, source, noted):
    choice = choose_replicas(bundle, flag=flag, live=live, reset=reset)
    assert (choice.count, choice.source) == (count, source)
    assert bool(choice.note) is noted
    if noted:
        assert f"keeping the running count of {live}" in (choice.note or "")
