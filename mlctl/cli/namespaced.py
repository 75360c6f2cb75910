"""Shared pieces of the commands that act in one Nomad namespace (env, train)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mlctl.cli.main import state

if TYPE_CHECKING:
    from mlctl.nomad.client import NomadClient
    from mlctl.settings import Settings


def namespaced_settings(ctx: click.Context, namespace: str | None) -> Settings:
    """The settings with a command's own --namespace taking precedence over -n."""
    settings: Settings = state(ctx).settings(nomad_namespace=namespace)
    return settings


def nomad_client(settings: Settings) -> NomadClient:
    from mlctl.session import nomad_client as build  # deferred: keeps `--help` fast

    return build(settings)


def namespace_option(func: Any) -> Any:
    return click.option("--namespace", metavar="NS", help="Nomad namespace (overrides -n).")(func)
