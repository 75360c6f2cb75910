"""Check a bundle's ``contract.py`` without running it.

The contract is the user's own code and runs only inside the model server. Validation
must be safe to run on any bundle, so it parses the file with :mod:`ast` and checks
the hooks' names and arities; it never imports the module.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from pathlib import Path

from mlctl.bundle.problems import Problem, warning

CONTRACT_FILE = "contract.py"

#: The seed 003 contract: hook name -> the positional parameters the server passes.
HOOKS: dict[str, tuple[str, ...]] = {
    "load": ("model_dir",),
    "preprocess": ("payload",),
    "predict": ("model", "features"),
    "postprocess": ("prediction",),
    "on_prediction": ("predictions",),  # off the request path: notifications (alerts:)
}


@dataclass(frozen=True)
class ContractCheck:
    hooks: tuple[str, ...]  #: hook names the file defines, in HOOKS order
    problems: tuple[Problem, ...]


def check_contract(path: Path, filename: str = CONTRACT_FILE) -> ContractCheck:
    """Parse ``path`` and report syntax errors, wrong hook arities and likely typos."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        return ContractCheck((), (Problem(filename, "(file)", f"cannot be read: {exc}"),))
    try:
        module = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "(file)"
        return ContractCheck((), (Problem(filename, where, f"syntax error: {exc.msg}"),))
    except ValueError as exc:  # e.g. NUL bytes in the source
        return ContractCheck((), (Problem(filename, "(file)", f"not Python source: {exc}"),))
    return _Checker(filename).run(module)


class _Checker:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        self.defined: dict[str, int] = {}

    def run(self, module: ast.Module) -> ContractCheck:
        for node in module.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.function(node)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                self.assignment(node)
        hooks = tuple(name for name in HOOKS if name in self.defined)
        return ContractCheck(hooks, tuple(self.problems))

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        name = node.name
        if name not in HOOKS:
            self.near_miss(name, node.lineno)
            return
        self.define(name, node.lineno)
        if isinstance(node, ast.AsyncFunctionDef):
            self.error(
                name,
                node.lineno,
                "must be a plain 'def': the server calls hooks "
                "from a worker thread and cannot await them",
            )
        elif not node.decorator_list:  # a decorator may change the signature; trust it
            self.arity(name, node.lineno, node.args)

    def assignment(self, node: ast.Assign | ast.AnnAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id in HOOKS:
                self.define(target.id, node.lineno)
                if isinstance(node.value, ast.Lambda):
                    self.arity(target.id, node.lineno, node.value.args)

    def define(self, name: str, line: int) -> None:
        if name in self.defined:
            self.problems.append(
                warning(
                    self.filename,
                    name,
                    f"defined twice (lines {self.defined[name]} and {line}); the last one wins",
                )
            )
        self.defined[name] = line

    def arity(self, name: str, line: int, args: ast.arguments) -> None:
        wanted = len(HOOKS[name])
        positional = [*args.posonlyargs, *args.args]
        required = len(positional) - len(args.defaults)
        accepts = required <= wanted and (wanted <= len(positional) or args.vararg is not None)
        required_keywords = [
            arg.arg
            for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
            if default is None
        ]
        if accepts and not required_keywords:
            return
        expected = ", ".join(HOOKS[name])
        taken = ", ".join(arg.arg for arg in positional) or "nothing"
        detail = f"takes ({taken})"
        if required_keywords:
            detail += f" and requires keyword-only {', '.join(required_keywords)}"
        self.error(
            name,
            line,
            f"must accept {wanted} positional argument"
            f"{'s' if wanted > 1 else ''} ({expected}) but {detail}",
        )

    def near_miss(self, name: str, line: int) -> None:
        close = difflib.get_close_matches(name, HOOKS, n=1, cutoff=0.8)
        if close:
            self.problems.append(
                warning(
                    self.filename,
                    name,
                    f"line {line}: not a contract hook, so the server "
                    f"ignores it; did you mean {close[0]}?",
                )
            )

    def error(self, name: str, line: int, message: str) -> None:
        self.problems.append(Problem(self.filename, name, f"line {line}: {message}"))
