"""Environment specs: schema, seed 001's JSON contract, template variables, apps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlctl.envs.catalog import catalog
from mlctl.envs.files import SpecInvalid
from mlctl.envs.load import check, load_spec
from mlctl.envs.seed import mebibytes

SEED_DOC = {
    "id": {"$oid": "644ece15809917bf2dc3956c"},
    "env-name": "fjasldf",
    "version": "1",
    "os": "ubuntu",
    "languages": [{"language-name": "python", "libraries": ["numpy"]}],
    "resources": {"ram": "1G", "cpu": "1.0", "gpu": "1", "storage": 54},
    "dataset": [
        {
            "category-name": "ffs",
            "db": [{"db-name": "fsgr", "dataset": [{"dataset-name": "effr", "version": "34"}]}],
        }
    ],
    "port-publish": [
        {"external": {"ports": "9000"}, "internal": {"ports": "9000", "protocol": "tcp"}},
        {"external": {"ports": "9080"}, "internal": {"ports": "980", "protocol": "udp"}},
    ],
    "storage": [{"target": "/target", "size": "1G", "lifecycle": "temporary"}],
    "is active": 1,
    "creation_time": {"$date": "2023-04-30T20:22:45.283Z"},
    "last updation time": {"$date": "2023-04-30T20:22:45.283Z"},
    "config_id": 0,
}


def test_seed_001_contract_becomes_a_gpu_workspace(tmp_path: Path) -> None:
    path = tmp_path / "dcloud.json"
    path.write_text(json.dumps(SEED_DOC))
    loaded = load_spec(path)
    spec = loaded.spec
    assert (spec.name, loaded.template.name, spec.packages) == ("fjasldf", "jupyter-gpu", ["numpy"])
    assert spec.resources.memory == 1024 and spec.resources.cpu == 1000
    assert spec.resources.disk == 54 * 1024 and spec.resources.gpu is not None
    assert (
        spec.datasets[0].volume == "effr-v34" and spec.datasets[0].target == "/data/ffs/fsgr/effr"
    )
    assert [(p.to, p.static) for p in spec.ports] == [(9000, 9000), (980, 9080)]
    assert spec.storage[0].size == 1024


def test_seed_problems_are_reported_with_the_rest() -> None:
    doc = {
        **SEED_DOC,
        "languages": [{"language-name": "node-js", "libraries": ["express"]}],
        "extra": 1,
    }
    doc["resources"] = {"ram": "lots", "cpu": "1"}
    _, problems = check(doc, "dcloud.json", Path())
    text = "\n".join(map(str, problems))
    assert "languages[0]: node-js: only python environments are supported" in text
    assert "resources.ram: 'lots' is not a size" in text
    assert "extra: unknown field of the seed 001 contract" in text


def test_sizes() -> None:
    assert mebibytes("1G") == 1024 and mebibytes("512M") == 512 and mebibytes(2, "G") == 2048
    assert mebibytes("1.5GiB") == 1536
    with pytest.raises(ValueError, match="not a size"):
        mebibytes("big")


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"name": "x", "template": "nope"}, "unknown template 'nope'"),
        (
            {"name": "x", "template": "jupyter-cpu", "resources": {"gpu": {"count": 1}}},
            "runs on CPUs",
        ),
        ({"name": "x", "template": "python-batch"}, "needs a command"),
        (
            {"name": "x", "template": "jupyter-cpu", "variables": {"interface": "vim"}},
            "must be one of lab, notebook",
        ),
        (
            {
                "name": "x",
                "template": "jupyter-cpu",
                "storage": [{"target": "/w", "lifecycle": "persistent"}],
            },
            "persistent storage needs volume",
        ),
        (
            {
                "name": "x",
                "template": "jupyter-cpu",
                "datasets": [{"name": "d", "source": "https://u:p@h/x"}],
            },
            "credentials",
        ),
        (
            {
                "name": "x",
                "template": "jupyter-cpu",
                "datasets": [{"name": "d", "volume": "v", "target": "/local/x"}],
            },
            "reserved",
        ),
        ({"name": "x", "template": "jupyter-cpu", "packages": ["-r evil.txt"]}, "PEP 508"),
    ],
)
def test_spec_problems(spec: dict[str, object], fragment: str) -> None:
    loaded, problems = check(spec, "env.yaml", Path())
    assert loaded is None
    assert any(fragment in str(p) for p in problems), problems


def test_app_config_supplies_command_port_and_requirements(tmp_path: Path) -> None:
    app = tmp_path / "shop"
    app.mkdir()
    (app / "app.py").write_text("print('hi')\n")
    (app / "config.json").write_text(
        json.dumps(
            {
                "model_name": "shop",
                "dependencies": ["starlette"],
                "command": ["python", "app.py"],
                "port": 9000,
            }
        )
    )
    loaded, problems = check(
        {"name": "shop", "template": "python-service", "app": "shop", "variables": {"port": 9001}},
        "env.yaml",
        tmp_path,
    )
    assert loaded is not None, problems
    assert loaded.variables["command"] == ["python", "app.py"] and loaded.variables["port"] == 9001
    assert loaded.packages == ["starlette"]


def test_app_tree_is_checked_with_the_bundle_rules(tmp_path: Path) -> None:
    app = tmp_path / "shop"
    app.mkdir()
    (app / "mlctl-app.yaml").write_text("command: [python, app.py]\n")
    (app / "escape").symlink_to("/etc/passwd")
    with pytest.raises(SpecInvalid) as caught:
        load_spec(None, {"name": "shop", "template": "python-service", "app": str(app)})
    assert any("escape" in str(p) for p in caught.value.problems)


def test_every_template_has_described_typed_variables() -> None:
    for template in catalog().values():
        assert template.kind in {"service", "batch"} and template.description
        for variable in template.variables.values():
            assert variable.description and variable.check(variable.default) is None
