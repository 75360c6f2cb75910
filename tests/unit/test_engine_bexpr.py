"""Binding-rule selectors (go-bexpr as Nomad uses it): parsing and evaluation."""

from __future__ import annotations

import pytest

from mlctl.local.engine.bexpr import SelectorError, compile_selector, matches

DATA = {
    "value": {"role": "data-scientist", "username": "alice", "email": "alice@example.com"},
    "list": {"namespaces": ["team-a", "team-b"], "groups": []},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ('value.role == "data-scientist"', True),
        ("value.role == data-scientist", True),
        ('value.role != "admin"', True),
        ('value.role == "admin"', False),
        ('"team-a" in list.namespaces', True),
        ("team-a in list.namespaces", True),
        ('"team-c" in list.namespaces', False),
        ('"team-c" not in list.namespaces', True),
        ('list.namespaces contains "team-b"', True),
        ('list.namespaces not contains "team-b"', False),
        ("list.groups is empty", True),
        ("list.namespaces is not empty", True),
        ('value.email matches "@example\\\\.com$"', True),
        ('value.email not matches "^bob"', True),
        ('"lic" in value.username', True),  # `in` over a string is a substring test
        ('value.role == "data-scientist" and "team-b" in list.namespaces', True),
        ('value.role == "admin" or value.username == "alice"', True),
        ('not (value.role == "admin")', True),
        ('not value.role == "data-scientist"', False),
        ('(value.role == "admin" or value.role == "viewer") and value.username == "alice"', False),
        ("value.role == `data-scientist`", True),
        ('value.missing == "x"', False),  # an unknown attribute never matches
        ('"x" in list.missing', False),
        ('list.namespaces == "team-a"', False),  # a list is not a single value
    ],
)
def test_selectors_evaluate_like_nomads(selector, expected):
    assert matches(selector, DATA) is expected


@pytest.mark.parametrize(
    "selector",
    [
        "value.role ==",
        '== "x"',
        'value.role = "x"',
        '(value.role == "x"',
        'value.role == "x" and',
        'value.role == "x" extra',
        "list.groups is full",
        '"unterminated in list.groups',
        'value.role matches "("',
        "and",
    ],
)
def test_invalid_selectors_are_refused(selector):
    with pytest.raises(SelectorError):
        compile_selector(selector)
    assert matches(selector, DATA) is False
