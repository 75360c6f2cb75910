"""Prediction rules (pure) and the notifier's bounded, off-path queue."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlctl.bundle.alerts import AlertsSection, Notify, PredictionRule
from mlctl.monitor.predictions import PredictionNotifier, matches, rows


def rule(**fields: Any) -> PredictionRule:
    return PredictionRule.model_validate({"name": "r", **fields})


def test_rows_of_every_shape_the_server_produces() -> None:
    assert rows(["a", "b"]) == ["a", "b"]
    assert rows(np.array([0.1, 0.95])) == [0.1, 0.95]
    assert rows({"label": np.array(["x", "y"]), "score": [0.2, 0.9]}) == [
        {"label": "x", "score": 0.2},
        {"label": "y", "score": 0.9},
    ]
    assert rows(7) == [7]


@pytest.mark.parametrize(
    ("fields", "predictions", "hits"),
    [
        ({"equals": "fraud"}, ["ok", "fraud", "fraud"], 2),
        ({"one_of": ["a", "b"]}, ["a", "c", "b"], 2),
        ({"above": 0.9}, [0.5, 0.95, 0.9], 1),
        ({"below": 0.1}, [0.05, "x", None], 1),
        ({"field": "score", "above": 0.9}, [{"score": 0.99}, {"score": 0.1}], 1),
        ({"field": "probs.1", "above": 0.5}, [{"probs": [0.2, 0.8]}, {"probs": [0.9, 0.1]}], 1),
        ({"equals": 1}, [1, True, "1"], 2),  # "1" matches as text; True is not 1 here
    ],
)
def test_rule_matching(fields: dict[str, Any], predictions: list[Any], hits: int) -> None:
    assert len(matches([rule(**fields)], predictions)) == hits


def test_a_rule_has_exactly_one_test_and_predictions_need_a_target() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        rule(equals="a", above=1)
    with pytest.raises(ValueError, match="notify"):
        AlertsSection.model_validate({"predictions": [{"name": "f", "equals": "fraud"}]})


class Recorder:
    def __init__(self) -> None:
        self.posts: list[tuple[str, Any, dict[str, str]]] = []

    def post(self, url: str, json: Any, headers: dict[str, str], timeout: float) -> Any:
        self.posts.append((url, json, headers))

        class Answer:
            status_code = 200
            text = ""

        return Answer()


def test_matches_are_aggregated_per_rule_and_sent_once_per_window() -> None:
    session = Recorder()
    notifier = PredictionNotifier(
        "iris",
        "1.0.0",
        [rule(equals="virginica", message="a virginica!")],
        Notify(webhook="http://hooks.example/x", token_env="HOOK"),
        {"HOOK": "tok-abcdef"},
        session=session,  # type: ignore[arg-type]
    )
    for _ in range(5):
        notifier.offer(["setosa", "virginica"])
    notifier.drain()
    (url, body, headers), = session.posts
    assert url == "http://hooks.example/x" and headers["Authorization"] == "Bearer tok-abcdef"
    alert = body["alerts"][0]
    assert alert["labels"]["rule"] == "r" and alert["annotations"]["summary"] == "a virginica!"
    assert "5 predictions of iris 1.0.0 matched rule r" in alert["annotations"]["description"]
    assert notifier.counters.matched == 5 and notifier.counters.sent == 1


def test_a_full_queue_drops_and_counts_instead_of_waiting() -> None:
    notifier = PredictionNotifier(
        "iris", "1", [rule(equals="x")], Notify(webhook="http://h/", queue_size=2), {}
    )
    for _ in range(5):
        notifier.offer(["x"])
    assert (notifier.counters.offered, notifier.counters.dropped) == (5, 3)


def test_the_contract_hook_adds_notifications_and_its_errors_are_counted() -> None:
    session = Recorder()
    calls: list[Any] = []

    def on_prediction(predictions: Any) -> list[dict[str, Any]]:
        calls.append(predictions)
        if len(calls) == 2:
            raise RuntimeError("user bug")
        return [{"rule": "custom", "summary": "custom said so", "severity": "warning"}]

    notifier = PredictionNotifier(
        "iris", "1", [], Notify(alertmanager="http://am:9093"), {}, hook=lambda: on_prediction,
        session=session,  # type: ignore[arg-type]
    )  # fmt: skip
    notifier.offer([1])
    notifier.offer([2])
    notifier.drain()
    (url, body, _), = session.posts
    assert url == "http://am:9093/api/v2/alerts"
    assert body[0]["labels"]["rule"] == "custom" and body[0]["labels"]["severity"] == "warning"
    assert notifier.counters.hook_errors == 1
