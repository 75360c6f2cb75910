"""tests/README.md documents every simulator steering route and every body key it reads."""

from __future__ import annotations

import re
from pathlib import Path

import mlctl.local.engine.routes_sim as routes_sim

REPO = Path(__file__).resolve().parents[2]
ROUTE = re.compile(r'@r\.route\("(?P<method>[A-Z]+)", "(?P<path>/v1/_sim/[^"]*)"')
KEY = re.compile(r'\.get\("(\w+)"')


def _routes() -> list[tuple[str, str, set[str]]]:
    source = Path(routes_sim.__file__).read_text(encoding="utf-8")
    matches = list(ROUTE.finditer(source))
    found = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(source)
        body = source[match.end() : end]
        found.append((match["method"], match["path"], set(KEY.findall(body))))
    return found


def test_the_source_parse_finds_the_routes() -> None:
    paths = {path for _, path, _ in _routes()}
    assert {"/v1/_sim/nodes", "/v1/_sim/advance", "/v1/_sim/behaviour"} <= paths


def test_every_steering_route_and_body_key_is_documented() -> None:
    readme = (REPO / "tests" / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("|") and "/v1/_sim/" in line]
    for method, path, keys in _routes():
        row = next((r for r in rows if f"`{method} {path}`" in r), None)
        assert row is not None, f"tests/README.md does not document {method} {path}"
        for key in keys:
            assert f"`{key}`" in row, f"{method} {path}: body key {key} is not documented"
