"""Global options, accepted before the command or after it, at every level.

``mlctl -o json status`` and ``mlctl status -o json`` mean the same, as with the nomad
and vault CLIs and kubectl. The mechanism is one place: the root group hands every
command it loads to :func:`apply_global_options`, which appends the global options
(:data:`GLOBALS`) to that command and to each of its subcommands. A global option is
not passed to the command's function; a parse-time callback records its value in the
run's :class:`CliState`, from which :meth:`CliState.settings` builds the settings.

Precedence: when the same global option is given more than once, the one nearest the
end of the command line wins (``mlctl -o table status -o json`` prints JSON). Global
options beat the environment, which beats the context file, as every flag does.

A command that already has an option with one of the same names keeps its own (for
example ``mlctl user add --namespace``, the namespaces granted to a data scientist); the
global keeps whichever of its flags remain free.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click


@dataclass
class CliState:
    """What every command shares: global flags and the settings built from them."""

    flags: dict[str, Any] = field(default_factory=dict)
    _settings: Any = None

    def set_flag(self, name: str, value: Any) -> None:
        """Record a global flag; settings are rebuilt on next use."""
        self.flags[name] = value
        self._settings = None

    def settings(self, **overrides: Any) -> Any:
        """The resolved :class:`mlctl.settings.Settings`, with per-command flag overrides."""
        from mlctl.settings import load_settings

        if self._settings is None:
            self._settings = load_settings(self.flags)
        return self._settings.with_overrides(**overrides) if overrides else self._settings


def state(ctx: click.Context) -> CliState:
    """The :class:`CliState` of the running command (a fresh one when called bare)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


@dataclass(frozen=True)
class GlobalSpec:
    """One global option: its flags, the settings it sets, and its help."""

    decls: tuple[str, ...]
    settings: tuple[str, ...]
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    is_flag: bool = False


GLOBALS: tuple[GlobalSpec, ...] = (
    GlobalSpec(("-o", "--output"), ("output",), "Output format.", choices=("table", "json")),
    GlobalSpec(("--debug",), ("debug",), "Show tracebacks for errors.", is_flag=True),
    GlobalSpec(("--context",), ("context",), "Use this context from the config file.", "NAME"),
    GlobalSpec(("--nomad-addr",), ("nomad_addr",), "Nomad API address (NOMAD_ADDR).", "URL"),
    GlobalSpec(("--vault-addr",), ("vault_addr",), "Vault API address (VAULT_ADDR).", "URL"),
    GlobalSpec(
        ("-n", "--namespace"),
        ("nomad_namespace",),
        "Nomad namespace (NOMAD_NAMESPACE); '*' lists all namespaces.",
        "NS",
    ),
    GlobalSpec(("--region",), ("nomad_region",), "Nomad region (NOMAD_REGION).", "REGION"),
    GlobalSpec(
        ("--ca-cert",),
        ("nomad_cacert", "vault_cacert"),
        "CA bundle for Nomad and Vault TLS.",
        "PATH",
    ),
    GlobalSpec(
        ("--skip-verify",),
        ("nomad_skip_verify", "vault_skip_verify"),
        "Skip TLS verification (insecure).",
        is_flag=True,
    ),
)


GLOBAL_SECTION = "Global options (before or after the command)"


class GlobalOption(click.Option):
    """A global option: its value goes to :class:`CliState`, not to the command."""

    def __init__(self, spec: GlobalSpec, decls: Sequence[str] | None = None) -> None:
        self.spec = spec
        kwargs: dict[str, Any] = {
            "help": spec.help,
            "expose_value": False,
            "callback": self._remember,
            "default": None,
        }
        if spec.is_flag:
            kwargs["is_flag"] = True
        else:
            kwargs["metavar"] = spec.metavar
            if spec.choices:
                kwargs["type"] = click.Choice(spec.choices)
        super().__init__(list(decls if decls is not None else spec.decls), **kwargs)

    def _remember(self, ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        run = state(ctx)
        for name in self.spec.settings:
            run.set_flag(name, value)


def global_options(taken: set[str] | frozenset[str] = frozenset()) -> list[GlobalOption]:
    """Fresh option objects, one per :data:`GLOBALS` entry, without the flags in ``taken``.

    A command's own ``-o`` (say) leaves the global as ``--output`` alone; a global whose
    every flag is taken is left out.
    """
    options = []
    for spec in GLOBALS:
        free = [decl for decl in spec.decls if decl not in taken]
        if any(decl.startswith("--") for decl in free):
            options.append(GlobalOption(spec, free))
    return options


_applied: weakref.WeakSet[click.Command] = weakref.WeakSet()


def _taken(command: click.Command) -> set[str]:
    return {name for p in command.params for name in (*p.opts, *p.secondary_opts)}


def apply_global_options(command: click.Command) -> click.Command:
    """Give ``command`` and every subcommand the global options (once; idempotent)."""
    if command in _applied:
        return command
    # Plain click classes become ours (same state, one more method) so every help page,
    # whichever module defined the command, shows the global options the same way.
    if type(command) is click.Command:
        command.__class__ = Command
    elif type(command) is click.Group:
        command.__class__ = Group
    command.params.extend(global_options(_taken(command)))
    _applied.add(command)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            apply_global_options(sub)
    return command


def _split(params: Sequence[click.Parameter]) -> tuple[list[Any], list[Any]]:
    own: list[Any] = []
    shared: list[Any] = []
    for param in params:
        if isinstance(param, GlobalOption):
            shared.append(param)
        else:
            own.append(param)
    return own, shared


def _format_options(command: click.Command, ctx: click.Context, formatter: Any) -> None:
    """Options, then the global options in their own section."""
    own, shared = _split(command.get_params(ctx))
    for title, params in (("Options", own), (GLOBAL_SECTION, shared)):
        rows = [r for r in (p.get_help_record(ctx) for p in params) if r is not None]
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)


def _invoke_naming_extras(ctx: click.Context, invoke: Callable[[click.Context], Any]) -> Any:
    """Run a command; an import that fails for want of a pip extra becomes one line."""
    try:
        return invoke(ctx)
    except ImportError as error:
        from mlctl.extras import missing_extra

        mapped = missing_extra(error, ctx.command_path)
        if mapped is None:
            raise
        raise mapped from error


class Command(click.Command):
    """mlctl's command class: global options in their own help section; a missing
    extra named in one line."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_options(self, ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        return _invoke_naming_extras(ctx, super().invoke)


class Group(click.Group):
    """mlctl's group class: subcommands are :class:`Command`/:class:`Group` by default."""

    command_class = Command
    group_class = type

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        return _invoke_naming_extras(ctx, super().invoke)
