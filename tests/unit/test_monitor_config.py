"""The bundle's alerts: section and the monitor's config file: validated, one clear line
per problem, secrets only as references."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mlctl.bundle.alerts import AlertsSection, Rules, merged_rules, parse_duration
from mlctl.bundle.validate import validate_bundle
from mlctl.errors import ConfigError, InvalidInput
from mlctl.monitor import config as monitor_config
from mlctl.monitor.setup import with_flags


@pytest.mark.parametrize(
    ("text", "seconds"), [(30, 30.0), ("90s", 90.0), ("10m", 600.0), ("1h30m", 5400.0),
                          ("250ms", 0.25)]
)  # fmt: skip
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["ten", "10 m", "-5s", True, -1, "1h x"])
def test_bad_durations_say_how_to_write_one(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_model_validate_reports_every_alerts_problem(tmp_path: Path, repo_root: Path) -> None:
    bundle = tmp_path / "iris"
    shutil.copytree(repo_root / "examples" / "iris", bundle)
    config = yaml.safe_load((bundle / "mlctl.yaml").read_text())
    config["alerts"] = {
        "rules": {"crash_loop": {"restarts": 0, "window": "ten"}, "latencyy": {}},
        "actions": {"scale": {"min": 3, "max": 2, "in_flight_above": 4}},
    }
    (bundle / "mlctl.yaml").write_text(yaml.safe_dump(config))
    problems = [str(p) for p in validate_bundle(bundle).errors]
    wanted = "alerts.rules.crash_loop.restarts: Input should be greater than or equal to 1"
    assert any(wanted in p for p in problems)
    assert any("alerts.rules.crash_loop.window: 'ten' is not a duration" in p for p in problems)
    assert any("alerts.rules.latencyy" in p for p in problems)


def test_a_bundle_overrides_only_what_it_names() -> None:
    rules = merged_rules(Rules(), {"crash_loop": {"restarts": 5}})
    assert (rules.crash_loop.restarts, rules.crash_loop.window) == (5, 600.0)
    assert rules.latency == Rules().latency


def test_scale_needs_bounds_in_order_and_a_load_signal() -> None:
    with pytest.raises(ValueError, match=r"min \(3\) is larger than max \(2\)"):
        AlertsSection.model_validate({"actions": {"scale": {"min": 3, "max": 2,
                                                            "in_flight_above": 1}}})  # fmt: skip
    with pytest.raises(ValueError, match="what counts as load"):
        AlertsSection.model_validate({"actions": {"scale": {"min": 1, "max": 2}}})


def test_monitor_config_errors_name_the_field() -> None:
    plaintext = {"to": ["a@b"], "from": "c@d", "smarthost": "h:25", "username": "u",
                 "password": {"env": "P"}, "starttls": False}  # fmt: skip
    with pytest.raises(InvalidInput) as bad:
        monitor_config.parse({"receivers": [{"name": "x", "email": [plaintext]}]}, "m.yaml")
    assert "refusing to send an SMTP password without STARTTLS" in bad.value.message
    with pytest.raises(InvalidInput, match="give exactly one of env"):
        monitor_config.parse({"receivers": [{"name": "x", "slack": [{"url": {}}]}]}, "m.yaml")
    with pytest.raises(InvalidInput, match=r"match_re\.model"):
        monitor_config.parse({"route": {"match_re": {"model": "("}}}, "m.yaml")


def test_flags_add_to_the_default_receiver() -> None:
    config = with_flags(
        monitor_config.MonitorConfig(),
        webhooks=["https://hooks.example/a"],
        slack="SLACK_URL",
        email_to=["ops@example.com"],
        alertmanagers=["http://am:9093"],
        env={"MLCTL_SMTP_HOST": "smtp.example.com:587", "MLCTL_SMTP_PASSWORD": "x",
             "MLCTL_SMTP_USER": "u"},
    )  # fmt: skip
    (default,) = config.receivers
    assert default.webhook[0].url == "https://hooks.example/a"
    assert default.slack[0].url.env == "SLACK_URL"
    assert default.email[0].password is not None and default.email[0].password.env
    assert config.alertmanagers == ["http://am:9093"]


def test_secrets_are_never_arguments() -> None:
    with pytest.raises(InvalidInput, match="the URL is a secret"):
        with_flags(monitor_config.MonitorConfig(), slack="https://hooks.slack.com/services/T/B/x")
    with pytest.raises(ConfigError, match="MLCTL_SMTP_HOST"):
        with_flags(monitor_config.MonitorConfig(), email_to=["ops@example.com"], env={})


def _readme_block(marker: str) -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("<!-- BEGIN section:monitor -->")[1]
    section = section.split("<!-- END section:monitor -->")[0]
    for block in section.split("```yaml\n")[1:]:
        body = block.split("```")[0]
        if body.startswith(marker):
            return body
    raise AssertionError(f"no yaml block starting with {marker!r} in the monitor section")


def test_the_readme_config_example_is_valid() -> None:
    config = monitor_config.parse(yaml.safe_load(_readme_block("# monitor.yaml")), "README")
    assert {r.name for r in config.receivers} == {"default", "pager", "fraud-team"}


@pytest.mark.parametrize("marker", ["# mlctl.yaml", "alerts:\n  predictions"])
def test_the_readme_alerts_examples_are_valid(marker: str) -> None:
    AlertsSection.model_validate(yaml.safe_load(_readme_block(marker))["alerts"])
