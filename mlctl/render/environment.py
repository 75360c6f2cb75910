"""The Jinja2 environment over ``jobspecs/`` and the one place template errors are shaped.

``StrictUndefined`` turns a misspelt or missing variable into an error at render time
instead of an empty string in a job that Nomad would happily run. Autoescape is off
because HTML escaping is wrong for HCL; the ``hcl*`` filters do HCL's escaping instead.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from mlctl.errors import ConfigError
from mlctl.paths import data_dir
from mlctl.render.hcl import FILTERS


class TemplateError(ConfigError):
    """A jobspec template could not be rendered: names the template, line and variable."""

    title = "template error"


def make_environment(search_path: Path | None = None) -> jinja2.Environment:
    """An environment over ``search_path`` (default: the shipped ``jobspecs/``)."""
    root = search_path or data_dir("jobspecs")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - HCL, not HTML: the hcl filters escape instead
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update({name: _strict(f) for name, f in FILTERS.items()})
    env.globals["fail"] = _fail
    return env


def _fail(message: str) -> str:
    """``{{ fail("...") }}``: a template refuses a value it cannot render (a TemplateError)."""
    raise TypeError(message)


def _strict(filter_: Callable[[Any], str]) -> Callable[[Any], str]:
    """Make an undefined value fail as *undefined* (naming it) before the filter sees it.

    Without this a filter would report a confusing type error about ``StrictUndefined``.
    """

    def checked(value: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            str(value)  # StrictUndefined raises UndefinedError: "'name' is undefined"
        return filter_(value)

    checked.__doc__ = filter_.__doc__
    return checked


@lru_cache(maxsize=1)
def _shipped_environment() -> jinja2.Environment:
    return make_environment()


def render_template(
    name: str, variables: Mapping[str, Any], *, search_path: Path | None = None
) -> str:
    """Render one template; every failure becomes a :class:`TemplateError`."""
    env = make_environment(search_path) if search_path else _shipped_environment()
    try:
        return env.get_template(name).render(**variables)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"jobspec template {exc.name} not found in {env.loader}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.name or name}: line {exc.lineno}: {exc.message}") from exc
    except (jinja2.UndefinedError, TypeError) as exc:
        where = _template_location(exc) or name
        raise TemplateError(
            f"{where}: {exc}",
            hint="every template variable is listed in jobspecs/variables.yaml",
        ) from exc


def _template_location(exc: BaseException) -> str | None:
    """``file:line`` of the innermost template frame in the traceback, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    if not frames:
        return None
    frame = frames[-1]
    return f"{Path(frame.filename).name}: line {frame.lineno}"
