"""A click group that imports a command's module only when that command runs.

``mlctl --help`` lists every command from the short help recorded here, so it never
imports the heavy modules (numpy, hvac, python-nomad, rich) behind them.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass

import click

from mlctl.cli.options import Group, apply_global_options
from mlctl.extras import missing_extra


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (``module:attribute``) and its one-line help."""

    target: str
    short_help: str

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def load(self) -> click.Command:
        module_name, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class LazyGroup(Group):
    """A group whose subcommands are :class:`LazyCommand` entries.

    Every command it hands out carries the global options (see :mod:`mlctl.cli.options`).
    """

    def __init__(self, *args: object, lazy: Mapping[str, LazyCommand], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = {name: entry for name, entry in lazy.items() if entry.available()}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            try:
                loaded = self.lazy[cmd_name].load()
            except ImportError as error:
                mapped = missing_extra(error, f"{ctx.command_path} {cmd_name}")
                if mapped is None:
                    raise
                raise mapped from error
            return apply_global_options(loaded)
        command = super().get_command(ctx, cmd_name)
        return apply_global_options(command) if command is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                rows.append((name, self.lazy[name].short_help))
            else:
                command = super().get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit=60)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
