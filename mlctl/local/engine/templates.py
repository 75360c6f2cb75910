"""The ``template`` block for real tasks: the subset of consul-template mlctl's jobs use.

Rendered once before the task starts (and again at each restart) into ``destination``
(relative to the task directory, never outside it), with ``perms``; ``env = true``
templates are also read as ``KEY=VALUE`` lines into the task's environment, as Nomad
does.  Supported actions: literal text, ``{{ env "NAME" }}``, ``{{ with nomadVar "PATH" }}
… {{ end }}`` with ``{{ .key }}`` and ``{{ index . "key" }}`` inside it, ``{{-``/``-}}``
trimming and custom delimiters.  A task reads, without any policy, the variables of its
own job (``nomad/jobs/<job>`` and below; a dispatched child, its parent's) — Nomad's
implicit workload-identity access; other paths are refused.  A missing variable fails the
start with Nomad's "Missing: nomad.var.block(…)" text (the restart policy retries), and
re-rendering on a variable change (``change_mode``) is not done: mlctl local renders at
start.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
VariableReader = Callable[[str, str], Mapping[str, str] | None]


class TemplateError(Exception):
    """A template could not be rendered; the text goes into the task's "Template" event."""


@dataclass
class _Frame:
    dot: Mapping[str, str] | None
    emitting: bool


def _tokens(text: str, left: str, right: str) -> list[tuple[str, str]]:
    """("text", s) and ("action", s) pieces, with ``{{-``/``-}}`` trimming applied."""
    pattern = re.compile(re.escape(left) + r"(-?)(.*?)(-?)" + re.escape(right), re.S)
    out: list[tuple[str, str]] = []
    pos = 0
    for match in pattern.finditer(text):
        literal = text[pos : match.start()]
        if match.group(1):
            literal = literal.rstrip()
        out.append(("text", literal))
        out.append(("action", match.group(2).strip()))
        pos = match.end()
        if match.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    out.append(("text", text[pos:]))
    return out


def render(
    text: str,
    env: Mapping[str, str],
    read_variable: VariableReader,
    namespace: str,
    allowed_prefix: str,
    delimiters: tuple[str, str] = ("{{", "}}"),
) -> str:
    """Render one template's text; raises TemplateError naming what is unsupported."""
    stack = [_Frame(None, True)]
    out: list[str] = []
    for kind, value in _tokens(text, *delimiters):
        frame = stack[-1]
        if kind == "text":
            if frame.emitting:
                out.append(value)
            continue
        if value == "end":
            if len(stack) == 1:
                raise TemplateError("template: unexpected {{ end }}")
            stack.pop()
            continue
        match = re.fullmatch(r'with\s+nomadVar\s+"([^"]+)"', value)
        if match:
            path = match.group(1)
            if path != allowed_prefix and not path.startswith(allowed_prefix + "/"):
                raise TemplateError(
                    f'template: nomadVar "{path}": permission denied (a task reads '
                    f"{allowed_prefix} and below without a policy)"
                )
            items = read_variable(namespace, path) if frame.emitting else None
            if frame.emitting and items is None:
                raise TemplateError(f"Missing: nomad.var.block({path}@{namespace}.global)")
            stack.append(_Frame(items, frame.emitting and bool(items)))
            continue
        if not frame.emitting:
            continue
        out.append(_value(value, frame, env))
    if len(stack) != 1:
        raise TemplateError("template: missing {{ end }}")
    return "".join(out)


def _value(action: str, frame: _Frame, env: Mapping[str, str]) -> str:
    match = re.fullmatch(r'env\s+"([^"]+)"', action)
    if match:
        return env.get(match.group(1), "")
    match = re.fullmatch(r"\.([A-Za-z_][A-Za-z0-9_]*)", action)
    if match and frame.dot is not None:
        return str(frame.dot.get(match.group(1), "<no value>"))
    match = re.fullmatch(r'index\s+\.\s+"([^"]*)"', action)
    if match and frame.dot is not None:  # keys that are not identifiers (``a-b``)
        return str(frame.dot.get(match.group(1), "<no value>"))
    raise TemplateError(f"template: {{{{ {action} }}}} is not supported by mlctl local")


def parse_env_file(text: str) -> dict[str, str]:
    """``env = true`` templates: ``KEY=VALUE`` lines (blank lines and ``#`` comments skipped)."""
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise TemplateError(f"template: env file line {number} is not KEY=VALUE")
        env[key.strip()] = value.strip().strip('"')
    return env


def render_task_templates(
    task: JSON,
    task_dir: Path,
    env: dict[str, str],
    read_variable: VariableReader,
    namespace: str,
    job_id: str,
) -> dict[str, str]:
    """Write every template of the task; returns the variables of ``env = true`` ones."""
    added: dict[str, str] = {}
    for template in task.get("Templates") or []:
        if template.get("SourcePath"):
            raise TemplateError("template: source files are not supported by mlctl local; use data")
        text = str(template.get("EmbeddedTmpl") or "")
        delimiters = (template.get("LeftDelim") or "{{", template.get("RightDelim") or "}}")
        rendered = render(
            text, {**env, **added}, read_variable, namespace, f"nomad/jobs/{job_id}", delimiters
        )
        destination = (task_dir / str(template.get("DestPath") or "local/template")).resolve()
        if task_dir.resolve() not in destination.parents:
            raise TemplateError(f"template: destination escapes the task directory: {destination}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(rendered, encoding="utf-8")
        destination.chmod(int(str(template.get("Perms") or "0644"), 8))
        if template.get("Envvars"):
            added.update(parse_env_file(rendered))
    return added
