from __future__ import annotations

from pathlib import Path

import pytest

from mlctl.errors import ConfigError, NotFound
from mlctl.settings import ContextFile, load_settings


def write_contexts(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_apply_without_any_source(tmp_path: Path) -> None:
    settings = load_settings({"config_file": tmp_path / "none.yaml"}, env={})
    assert settings.nomad_addr == "http://127.0.0.1:4646"
    assert settings.nomad_namespace == "default"
    assert settings.output == "table"


def test_flags_beat_env_beat_context_beat_defaults(tmp_path: Path) -> None:
    cfg = write_contexts(
        tmp_path / "c.yaml",
        "current-context: lab\ncontexts:\n  lab:\n"
        "    nomad_addr: http://ctx:4646\n    vault_addr: http://ctx:8200\n"
        "    nomad_namespace: from-context\n",
    )
    env = {"MLCTL_CONFIG": str(cfg), "NOMAD_ADDR": "http://env:4646", "NOMAD_NAMESPACE": "env"}
    settings = load_settings({"nomad_namespace": "flag"}, env=env)
    assert settings.nomad_namespace == "flag"
    assert settings.nomad_addr == "http://env:4646"
    assert settings.vault_addr == "http://ctx:8200"


def test_env_coerces_lists_and_booleans(tmp_path: Path) -> None:
    env = {
        "MLCTL_CONFIG": str(tmp_path / "x.yaml"),
        "MLCTL_DATACENTERS": "dc1, dc2",
        "NOMAD_SKIP_VERIFY": "true",
    }
    settings = load_settings(env=env)
    assert settings.datacenters == ("dc1", "dc2")
    assert settings.nomad_skip_verify is True


def test_bad_boolean_names_the_source(tmp_path: Path) -> None:
    env = {"MLCTL_CONFIG": str(tmp_path / "x.yaml"), "VAULT_SKIP_VERIFY": "maybe"}
    with pytest.raises(ConfigError, match="VAULT_SKIP_VERIFY"):
        load_settings(env=env)


def test_secrets_are_refused_in_the_context_file(tmp_path: Path) -> None:
    cfg = write_contexts(tmp_path / "c.yaml", "contexts:\n  lab:\n    nomad_token: s3cr3t-token\n")
    with pytest.raises(ConfigError, match=r"contexts\.lab\.nomad_token") as caught:
        load_settings(env={"MLCTL_CONFIG": str(cfg)})
    assert "s3cr3t-token" not in str(caught.value)


def test_unknown_context_is_not_found(tmp_path: Path) -> None:
    cfg = write_contexts(tmp_path / "c.yaml", "contexts: {}\n")
    with pytest.raises(NotFound, match="'nope'"):
        load_settings({"context": "nope"}, env={"MLCTL_CONFIG": str(cfg)})


def test_broken_yaml_is_a_one_line_config_error(tmp_path: Path) -> None:
    cfg = write_contexts(tmp_path / "c.yaml", "contexts: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"MLCTL_CONFIG": str(cfg)})
    assert "\n" not in caught.value.message


def test_context_file_round_trips(tmp_path: Path) -> None:
    file = ContextFile(
        path=tmp_path / "sub" / "c.yaml",
        current="a",
        contexts={"a": {"nomad_addr": "http://a:4646"}},
    )
    file.write()
    again = ContextFile.read(file.path)
    assert again.current == "a"
    assert again.contexts == {"a": {"nomad_addr": "http://a:4646"}}


def test_public_dict_hides_secret_values(tmp_path: Path) -> None:
    settings = load_settings(env={"MLCTL_CONFIG": str(tmp_path / "x"), "NOMAD_TOKEN": "abcdef123"})
    public = settings.to_public_dict()
    assert public["nomad_token"] == "set"
    assert "abcdef123" not in str(public)
