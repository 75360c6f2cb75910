"""The model job gives the server time to drain: kill_timeout follows serving.drain_timeout_s."""

from __future__ import annotations

import re

import pytest

from mlctl.render.model_job import render_model_job
from tests.unit.render_cases import bundle, options


@pytest.mark.parametrize(("drain", "kill"), [(None, "30s"), (2, "7s"), (50.5, "56s")])
def test_kill_timeout_outlasts_the_drain(drain: float | None, kill: str) -> None:
    serving = {} if drain is None else {"serving": {"drain_timeout_s": drain}}
    hcl = render_model_job(bundle(**serving), options())
    match = re.search(r'^\s*kill_timeout = "(\d+)s"$', hcl, re.MULTILINE)
    assert match is not None, hcl
    assert f"{match.group(1)}s" == kill
    seconds = int(match.group(1))
    assert seconds > (25 if drain is None else drain)  # Nomad's SIGKILL comes after the drain
