"""``mlctl model init``: a new bundle that works from the first minute.

The new bundle is a copy of a shipped, tested example (``examples/iris`` for skops,
``examples/iris-onnx`` for ONNX) with its name and version rewritten, so it validates,
serves and packages as it is; the author then swaps in their own model. The copy is
made in a temporary directory and moved into place, so a failure leaves nothing.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlctl.bundle.config import read_config
from mlctl.bundle.ignore import IGNORE_FILE, read_ignore
from mlctl.bundle.schema import NAME_PATTERN
from mlctl.bundle.tree import EntryKind, scan_tree
from mlctl.bundle.validate import validate_bundle
from mlctl.errors import Conflict, InvalidInput
from mlctl.paths import data_dir

#: Example bundle each format's scaffold is copied from.
TEMPLATES = {"skops": "iris", "onnx": "iris-onnx"}
INITIAL_VERSION = "0.1.0"

DEFAULT_IGNORE = """\
# Files left out of the packaged bundle: one fnmatch pattern per line.
# A pattern without '/' matches a name at any depth; a trailing '/' matches directories.
*.log
.venv/
.ipynb_checkpoints/
"""

README = """\
# {name}

A model bundle for mlctl, scaffolded from the `{template}` example ({fmt} format).
It works as it is: validate it, serve it, then replace the model with your own.

| file | what it is |
|---|---|
| `mlctl.yaml` | name, version, model file and format, signature, resources, serving |
| `{model_file}` | the model (the example's iris classifier until you replace it) |
| `contract.py` | optional hooks: `load`, `preprocess`, `predict`, `postprocess` |
| `train.py` | how the example model was trained; adapt it to write your model |
| `.mlctlignore` | files left out of the package |

```bash
mlctl model validate {path}
mlctl serve {path} --once '{{"features": [[5.1, 3.5, 1.4, 0.2]]}}'
mlctl model package {path} --out dist/
```

After replacing the model, update `signature` in `mlctl.yaml` to its inputs and
outputs, and `contract.py` to turn your JSON into its features. Every field is
described in mlctl's README ("The bundle contract").
"""


@dataclass(frozen=True)
class Scaffold:
    path: Path
    name: str
    format: str
    files: tuple[str, ...]


def scaffold_bundle(name: str, dest: Path, fmt: str = "skops") -> Scaffold:
    """Create a working bundle called ``name`` at ``dest`` (absent or an empty directory)."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise InvalidInput(
            f"{name!r}: not a valid model name",
            hint="use a DNS label: 1-63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit, e.g. churn-model",
        )
    if fmt not in TEMPLATES:
        raise InvalidInput(f"{fmt!r}: unknown format", hint=f"use one of: {', '.join(TEMPLATES)}")
    target = dest.absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(f"{target}: already exists and is not empty", hint="choose another --dir")
    template = data_dir("examples") / TEMPLATES[fmt]
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.init-"))
    try:
        _fill(temp, template, name, fmt, dest)
        files = _verified(temp, template)
        temp.chmod(0o755)
        temp.rename(target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return Scaffold(target, name, fmt, files)


def _fill(root: Path, template: Path, name: str, fmt: str, shown_path: Path) -> None:
    rules, _ = read_ignore(template)
    for entry in scan_tree(template, rules).entries:
        destination = root.joinpath(*entry.path.parts)
        if entry.kind is EntryKind.DIR:
            destination.mkdir(exist_ok=True)
        else:
            shutil.copyfile(entry.source, destination)
            destination.chmod(0o755 if entry.executable else 0o644)
    config = root / "mlctl.yaml"
    text = _renamed(config.read_text(encoding="utf-8"), name)
    config.write_text(_with_header(text, name, template.name), encoding="utf-8")
    model_file = read_config(root).model.file
    (root / "README.md").write_text(
        README.format(
            name=name, template=template.name, fmt=fmt, model_file=model_file, path=shown_path
        ),
        encoding="utf-8",
    )
    if not (root / IGNORE_FILE).exists():
        (root / IGNORE_FILE).write_text(DEFAULT_IGNORE, encoding="utf-8")


def _renamed(text: str, name: str) -> str:
    """Rewrite the top-level name, version and description lines, keeping the comments."""
    replacements = {
        "name": name,
        "version": INITIAL_VERSION,
        "description": f"{name} (scaffolded from an mlctl example; describe your model here)",
    }
    for key, value in replacements.items():
        text, count = re.subn(rf"(?m)^{key}:.*$", f"{key}: {value}", text, count=1)
        if count != 1:
            raise RuntimeError(f"the template's mlctl.yaml has no top-level {key}: line")
    return text


def _with_header(text: str, name: str, template: str) -> str:
    """Replace the example's opening comment, which describes the example, with ours."""
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    header = (
        f"# Bundle config of {name}, scaffolded by `mlctl model init` from examples/{template}.\n"
        '# Every field is described in mlctl\'s README ("The bundle contract").\n'
    )
    return header + "".join(lines)


def _verified(root: Path, template: Path) -> tuple[str, ...]:
    """The new bundle must validate; if not, the shipped template is broken (a bug)."""
    report = validate_bundle(root)
    if not report.ok:
        problems = "; ".join(str(problem) for problem in report.errors)
        raise RuntimeError(f"the {template.name} template does not validate: {problems}")
    return tuple(entry.path.as_posix() for entry in report.tree.entries)
