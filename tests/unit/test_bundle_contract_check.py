"""contract.py is checked by parsing, never by running it."""

from __future__ import annotations

from pathlib import Path

from mlctl.bundle.contract_check import check_contract
from mlctl.bundle.problems import Severity


def _check(tmp_path: Path, source: str) -> tuple[tuple[str, ...], list[str]]:
    path = tmp_path / "contract.py"
    path.write_text(source)
    result = check_contract(path)
    return result.hooks, [str(problem) for problem in result.problems]


def test_well_formed_hooks(tmp_path: Path) -> None:
    hooks, problems = _check(
        tmp_path,
        "import numpy\n"
        "def load(model_dir): ...\n"
        "def preprocess(payload, *, strict=False): ...\n"
        "def predict(model, features, extra=None): ...\n"
        "def postprocess(*args): ...\n"
        "def helper(a, b, c): ...\n",
    )
    assert hooks == ("load", "preprocess", "predict", "postprocess")
    assert problems == []


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    hooks, problems = _check(tmp_path, "def preprocess(payload):\n    return (\n\nx = 1\n")
    assert hooks == ()
    assert len(problems) == 1
    assert problems[0].startswith("contract.py: line 2: syntax error:")


def test_wrong_arities_and_async_hooks(tmp_path: Path) -> None:
    _, problems = _check(
        tmp_path,
        "def load(): ...\n"
        "def preprocess(payload, schema): ...\n"
        "async def predict(model, features): ...\n"
        "def postprocess(*, prediction): ...\n",
    )
    assert problems == [
        "contract.py: load: line 1: must accept 1 positional argument (model_dir) "
        "but takes (nothing)",
        "contract.py: preprocess: line 2: must accept 1 positional argument (payload) "
        "but takes (payload, schema)",
        "contract.py: predict: line 3: must be a plain 'def': the server calls hooks "
        "from a worker thread and cannot await them",
        "contract.py: postprocess: line 4: must accept 1 positional argument (prediction) "
        "but takes (nothing) and requires keyword-only prediction",
    ]


def test_lambdas_assignments_and_decorators(tmp_path: Path) -> None:
    hooks, problems = _check(
        tmp_path,
        "import functools\n"
        "from helpers import load\n"
        "preprocess = lambda payload: payload\n"
        "postprocess = lambda: None\n"
        "@functools.cache\n"
        "def predict(model): ...\n",
    )
    assert hooks == ("preprocess", "predict", "postprocess")
    assert problems == [
        "contract.py: postprocess: line 4: must accept 1 positional argument (prediction) "
        "but takes (nothing)"
    ]


def test_near_misses_and_redefinitions_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "contract.py"
    path.write_text(
        "def pre_process(payload): ...\n"
        "def predict_proba(model, x): ...\n"
        "def postprocess(p): ...\n"
        "def postprocess(p): ...\n"
    )
    result = check_contract(path)
    assert [p.severity for p in result.problems] == [Severity.WARNING, Severity.WARNING]
    assert [str(p) for p in result.problems] == [
        "contract.py: pre_process: line 1: not a contract hook, so the server ignores it; "
        "did you mean preprocess?",
        "contract.py: postprocess: defined twice (lines 3 and 4); the last one wins",
    ]


def test_the_file_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _check(tmp_path, f"open({str(marker)!r}, 'w').write('x')\ndef preprocess(payload): ...\n")
    assert not marker.exists()


def test_undecodable_and_nul_sources(tmp_path: Path) -> None:
    path = tmp_path / "contract.py"
    path.write_bytes(b"x = '\xff'\n")
    assert str(check_contract(path).problems[0]).startswith("contract.py: line 1: syntax error")
    path.write_bytes(b"x = 1\x00\n")
    assert check_contract(path).problems[0].field in {"(file)", "line 1"}
