"""The bundle's schedule: section: both forms, and mlctl model validate's problem lines."""

from __future__ import annotations

import yaml

from mlctl.bundle.config import schema_errors
from mlctl.errors import ExitStatus
from tests.bundle_fixtures import copy_example
from tests.cli_runner import run_cli


def _config(tmp_path, schedule):
    bundle = copy_example("iris", tmp_path / "iris")
    path = bundle / "mlctl.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["schedule"] = schedule
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return bundle, raw


def test_list_and_mapping_forms(tmp_path):
    _, raw = _config(tmp_path, [{"window": "Mon-Fri 09:00-18:00 Europe/Berlin"}])
    config, errors = schema_errors(raw)
    assert errors == [] and config is not None and config.schedule is not None
    assert config.schedule.compile(config.replicas).idle_replicas == 0
    raw["schedule"] = {
        "windows": [{"start": "0 9 * * 1-5", "stop": "0 18 * * 1-5", "tz": "UTC"}],
        "idle_replicas": 1,
    }
    config, errors = schema_errors(raw)
    assert errors == [] and config is not None and config.schedule is not None
    assert config.schedule.idle_replicas == 1


def test_validate_names_window_and_field(tmp_path):
    bundle, _ = _config(
        tmp_path,
        [
            {"window": "Mon-Fri 09:00-18:00 Europe/Berlin", "replicas": 2},
            {"start": "0 9 * * 1-5", "stop": "0 18 * * 1-5", "tz": "Mars/Olympus"},
            {"from": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
            {"window": "Mon-Fri 09:00-18:00 UTC", "down": True, "replicas": 3},
            {"window": "Mon 9:00-17:00 UTC", "tz": "UTC"},
        ],
    )
    result = run_cli(["model", "validate", str(bundle)])
    assert result.status == ExitStatus.INVALID
    problems = [line for line in result.stdout.splitlines() if "schedule" in line]
    assert problems == [
        "mlctl.yaml: schedule[1].tz: unknown time zone 'Mars/Olympus' (use an IANA name such as "
        "Europe/Berlin)",
        "mlctl.yaml: schedule[2]: from 2025-01-02T00:00:00Z is not before until "
        "2025-01-01T00:00:00Z",
        "mlctl.yaml: schedule[3]: a down window runs 0 replicas; remove its replicas",
        "mlctl.yaml: schedule[4]: write exactly one form: window: \"Mon-Fri 09:00-18:00 "
        "Europe/Berlin\", or start/stop/tz (cron), or from/until (ISO 8601)",
    ], result.stdout
