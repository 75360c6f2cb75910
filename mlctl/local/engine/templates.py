"""Task ``template`` blocks: the consul-template subset mlctl's jobs use, rendered as Nomad does.

Nomad renders each template with consul-template before the task starts, reading Nomad
Variables with the task's workload identity.  mlctl's jobs only need a secret copied from
the job's own variable into the environment, so this renderer implements:

- literal text;
- ``{{ with nomadVar "PATH" }} … {{ end }}`` (the body sees the variable's items);
- ``{{ .key }}`` and ``{{ index . "key" }}`` inside it.

Anything else is refused with the name of the construct (a stricter-than-Nomad choice:
rendering it wrong would be worse).  A variable that does not exist yet makes the template
wait, as Nomad's does ("Missing: nomadVar.block(…)"); a variable the workload may not read
fails the task.  ``env = true`` output is parsed as ``KEY=VALUE`` lines (godotenv rules).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .acl import Grant, Policy, WorkloadClaim

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_WITH_VAR = re.compile(r'^with\s+nomadVar\s+"([^"]+)"$')
_FIELD = re.compile(r"^\.([A-Za-z_][A-Za-z0-9_]*)$")
_INDEX = re.compile(r'^index\s+\.\s+"([^"]*)"$')
_ENV_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$")


class TemplateMissing(Exception):
    """A variable the template reads does not exist (yet): the task waits for it."""


class TemplateFailed(Exception):
    """The template cannot render: unsupported construct or permission denied."""


#: Looks up a variable's items by path; raises PermissionError when the workload may not.
VariableLookup = Callable[[str], Mapping[str, str] | None]


@dataclass(frozen=True)
class RenderedTemplate:
    destination: str
    text: str
    env: dict[str, str] | None


def render_template(data: str, lookup: VariableLookup, *, namespace: str, region: str) -> str:
    """Render ``data``; the lookup answers for the workload's namespace."""
    out: list[str] = []
    scope: Mapping[str, str] | None = None
    position = 0
    for match in _ACTION.finditer(data):
        text = data[position : match.start()]
        position = match.end()
        out.append(_trim(text, match.group(0)))
        action = match.group(1).strip()
        var = _WITH_VAR.match(action)
        if var:
            if scope is not None:
                raise TemplateFailed("nested {{ with }} blocks are not supported")
            scope = _read(var.group(1), lookup, namespace, region)
            continue
        if action == "end":
            if scope is None:
                raise TemplateFailed("{{ end }} without {{ with }}")
            scope = None
            continue
        out.append(_field(action, scope))
    if scope is not None:
        raise TemplateFailed("{{ with }} without {{ end }}")
    out.append(data[position:])
    return "".join(out)


def _trim(text: str, action: str) -> str:
    return text.rstrip() if action.startswith("{{-") else text


def _read(path: str, lookup: VariableLookup, namespace: str, region: str) -> Mapping[str, str]:
    where = f"nomadVar.block({path}@{namespace}.{region})"
    try:
        items = lookup(path)
    except PermissionError:
        raise TemplateFailed(f"{where}: Permission denied") from None
    if items is None:
        raise TemplateMissing(f"Missing: {where}")
    return items


def _field(action: str, scope: Mapping[str, str] | None) -> str:
    key_match = _FIELD.match(action) or _INDEX.match(action)
    if key_match is None:
        raise TemplateFailed(f"unsupported template action {{{{ {action} }}}}")
    if scope is None:
        raise TemplateFailed(f"{{{{ {action} }}}} outside a {{{{ with nomadVar }}}} block")
    return scope.get(key_match.group(1), "<no value>")


def parse_env(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines as Nomad reads an ``env = true`` template (comments, quotes)."""
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.match(stripped)
        if match is None:
            raise TemplateFailed(f"env template line {number}: expected KEY=VALUE")
        value = match.group(2).strip()
        if value[:1] in {'"', "'"}:
            try:
                parts = shlex.split(value)
            except ValueError as exc:
                raise TemplateFailed(f"env template line {number}: {exc}") from None
            value = parts[0] if parts else ""
        env[match.group(1)] = value
    return env


def render_task_templates(
    templates: list[Mapping[str, object]],
    lookup: VariableLookup,
    *,
    namespace: str,
    region: str = "global",
) -> list[RenderedTemplate]:
    """Every ``Templates[]`` entry of a task, rendered; env templates parsed."""
    rendered = []
    for template in templates:
        if template.get("SourcePath"):
            raise TemplateFailed("template source files are not supported; use data")
        data = str(template.get("EmbeddedTmpl") or "")
        text = render_template(data, lookup, namespace=namespace, region=region)
        env = parse_env(text) if template.get("Envvars") else None
        rendered.append(RenderedTemplate(str(template.get("DestPath") or ""), text, env))
    return rendered


def claim_for(job: Mapping[str, object], group: str, task: str) -> WorkloadClaim:
    """The task's workload identity: a dispatched or periodic child claims its parent."""
    job_id = str(job.get("ParentID") or job.get("ID") or "")
    return WorkloadClaim(str(job.get("Namespace") or "default"), job_id, group, task)


def workload_lookup(
    read_variable: Callable[[str, str], Mapping[str, object] | None],
    claim: WorkloadClaim,
    policies: list[Policy] | None = None,
) -> VariableLookup:
    """Variable reads as the task: its implicit workload policy plus any policies attached
    to the job; ``read_variable(namespace, path)`` returns the stored variable or None."""
    grant = Grant(False, list(policies or []), claim=claim)

    def read(path: str) -> Mapping[str, str] | None:
        if not grant.allow_variable(claim.namespace, path, "read"):
            raise PermissionError(path)
        var = read_variable(claim.namespace, path)
        if var is None:
            return None
        items = var.get("Items")
        return {str(k): str(v) for k, v in items.items()} if isinstance(items, dict) else {}

    return read


def render_for_task(
    read_variable: Callable[[str, str], Mapping[str, object] | None],
    job: Mapping[str, object],
    group: str,
    task: Mapping[str, object],
) -> list[RenderedTemplate]:
    """A task's templates rendered as the task (its workload identity); may raise
    TemplateMissing (the task waits) or TemplateFailed (the task fails)."""
    templates = task.get("Templates") or []
    if not isinstance(templates, list) or not templates:
        return []
    claim = claim_for(job, group, str(task.get("Name") or ""))
    lookup = workload_lookup(read_variable, claim)
    return render_task_templates(templates, lookup, namespace=claim.namespace)


def write_templates(rendered: list[RenderedTemplate], task_dir: Path) -> None:
    """Each destination inside the task directory; files in ``secrets/`` are 0600."""
    root = task_dir.resolve()
    for template in rendered:
        if not template.destination:
            continue
        target = (root / template.destination).resolve()
        if root not in target.parents:
            raise TemplateFailed(
                f"template destination escapes the task directory: {template.destination}"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        secret = (root / "secrets") in target.parents
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(template.text)
