"""The whole command tree, walked: global options everywhere, examples in every help.

These tests load every command through the root group exactly as ``mlctl`` does, so a
command added later (by any module) is checked without being listed here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from mlctl.cli.main import cli
from mlctl.cli.options import GLOBALS
from tests.cli_runner import run_cli


def _walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group, info_name="mlctl")
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))


COMMANDS = sorted(_walk(cli))
LEAVES = [
    path
    for path in COMMANDS
    if not isinstance(cli.get_command(click.Context(cli), path[0]), click.Group) or len(path) > 1
]


def test_the_walk_sees_the_whole_tree() -> None:
    assert ("status",) in COMMANDS
    assert ("context", "show") in COMMANDS
    assert ("user", "remove") in COMMANDS
    assert len(LEAVES) > 30


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_help_lists_the_global_options(path: tuple[str, ...]) -> None:
    result = run_cli([*path, "--help"])
    assert result.status == 0, result.stderr
    for spec in GLOBALS:
        long_flag = spec.decls[-1]
        assert long_flag in result.stdout, f"mlctl {' '.join(path)} --help lacks {long_flag}"


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_leaf_help_has_examples(path: tuple[str, ...]) -> None:
    text = run_cli([*path, "--help"]).stdout
    assert "Examples:" in text, f"mlctl {' '.join(path)} --help has no Examples: block"
    block = text.split("Examples:", 1)[1]
    example_lines = [line.strip() for line in block.splitlines() if line.strip()]
    assert example_lines and example_lines[0].startswith(("mlctl", "cat", "printf", "MLCTL_")), (
        path,
        example_lines[:2],
    )


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.yaml"
    monkeypatch.setenv("MLCTL_CONFIG", str(path))
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["-o", "json", "context", "list"],
        ["context", "-o", "json", "list"],
        ["context", "list", "-o", "json"],
        ["context", "list", "--output=json"],
        ["-o", "table", "context", "list", "-o", "json"],  # the one nearest the end wins
    ],
)
def test_output_option_works_at_every_level(config: Path, args: list[str]) -> None:
    assert run_cli(["context", "set", "lab", "nomad_addr=http://10.0.0.1:4646"]).status == 0
    result = run_cli(args)
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout)[0]["name"] == "lab"


def test_connection_options_after_the_command_reach_the_settings(config: Path) -> None:
    result = run_cli(
        ["context", "show", "--nomad-addr", "http://10.9.9.9:4646", "-n", "team-a", "-o", "json"]
    )
    shown = json.loads(result.stdout)
    assert shown["nomad_addr"] == "http://10.9.9.9:4646"
    assert shown["nomad_namespace"] == "team-a"


def test_ca_cert_and_skip_verify_set_both_services(config: Path) -> None:
    args = ["context", "show", "--ca-cert", "/etc/ca.pem", "--skip-verify", "-o", "json"]
    shown = json.loads(run_cli(args).stdout)
    assert shown["nomad_cacert"] == shown["vault_cacert"] == "/etc/ca.pem"
    assert shown["nomad_skip_verify"] is shown["vault_skip_verify"] is True


def test_an_error_after_a_trailing_output_flag_is_json_too(config: Path) -> None:
    result = run_cli(["context", "use", "missing", "-o", "json"])
    assert result.status == 5
    assert json.loads(result.stdout)["status"] == 5


def test_debug_after_the_command_reraises(config: Path) -> None:
    from mlctl.errors import NotFound

    with pytest.raises(NotFound):
        run_cli(["context", "use", "missing", "--debug"])


def test_a_command_keeps_its_own_option_of_the_same_name() -> None:
    """`user add --namespace` grants namespaces; the global -n is not added on top."""
    text = run_cli(["user", "add", "--help"]).stdout
    own, shared = text.split("Global options", 1)
    assert "-n, --namespace NS" in own
    assert "--namespace" not in shared


def test_a_clash_on_one_flag_leaves_the_global_its_other_flags() -> None:
    from mlctl.cli.options import apply_global_options

    @click.command()
    @click.option("-o", "--out", "out")
    @click.pass_context
    def writer(ctx: click.Context, out: str | None) -> None:
        from mlctl.cli.options import state

        click.echo(f"out={out} output={state(ctx).settings().output}")

    apply_global_options(writer)
    flags = {name for p in writer.params for name in p.opts}
    assert {"-o", "--out", "--output"} <= flags
    from click.testing import CliRunner

    result = CliRunner().invoke(writer, ["-o", "x", "--output", "json"])
    assert result.output.strip() == "out=x output=json", result.output
