"""Binding-rule selectors: the boolean expression language Nomad evaluates at login.

Nomad parses ``Selector`` with go-bexpr against the identity's attributes,
``{"value": {name: str}, "list": {name: [str]}}``. Supported here, as documented for
binding rules: ``==``, ``!=``, ``in``, ``not in``, ``contains``, ``not contains``,
``is empty``, ``is not empty``, ``matches``, ``not matches``, ``and``, ``or``, ``not``
and parentheses. Values are ``"double-quoted"`` (with escapes), ```raw``` or bare
words (``engineering in list.roles``). An attribute that does not exist makes the
whole selector fail to match, as Nomad does when evaluation errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<op>==|!=)
      | (?P<paren>[()])
      | (?P<word>[^\s()"`=!]+)
    )""",
    re.VERBOSE,
)
_SELECTOR = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_/-]+)*$")
KEYWORDS = {"and", "or", "not", "in", "contains", "matches", "is", "empty"}


class SelectorError(ValueError):
    """A selector go-bexpr would refuse to compile (binding rule create answers 400)."""


class _Missing(LookupError):
    """The selector names an attribute the identity does not have."""


@dataclass(frozen=True)
class _Tok:
    kind: str  # "string", "word", "op", "paren", "end"
    text: str

    @property
    def value(self) -> str:
        if self.kind == "string":
            return str(json.loads(self.text))
        if self.kind == "raw":
            return self.text[1:-1]
        return self.text


def _tokens(source: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(source):
        if source[pos:].isspace():
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise SelectorError(f"unexpected character at offset {pos}: {source[pos : pos + 10]!r}")
        kind = match.lastgroup or "word"
        text = match.group(kind)
        if kind == "string":
            try:
                json.loads(text)
            except ValueError:
                raise SelectorError(f"invalid string literal {text}") from None
        out.append(_Tok(kind, text))
        pos = match.end()
    out.append(_Tok("end", ""))
    return out


Predicate = Callable[[dict[str, Any]], bool]


class _Parser:
    def __init__(self, source: str) -> None:
        self.toks = _tokens(source)
        self.pos = 0

    def peek(self, offset: int = 0) -> _Tok:
        return self.toks[min(self.pos + offset, len(self.toks) - 1)]

    def take(self) -> _Tok:
        tok = self.peek()
        self.pos += 1
        return tok

    def word(self, *expected: str) -> bool:
        tok = self.peek()
        if tok.kind == "word" and tok.text in expected:
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        if self.peek().kind == "end":
            raise SelectorError("empty expression")
        expr = self.or_()
        if self.peek().kind != "end":
            raise SelectorError(f"unexpected {self.peek().text!r}")
        return expr

    def or_(self) -> Predicate:
        terms = [self.and_()]
        while self.word("or"):
            terms.append(self.and_())
        return terms[0] if len(terms) == 1 else (lambda d: any(t(d) for t in terms))

    def and_(self) -> Predicate:
        terms = [self.unary()]
        while self.word("and"):
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else (lambda d: all(t(d) for t in terms))

    def unary(self) -> Predicate:
        if self.word("not"):
            inner = self.unary()
            return lambda d: not inner(d)
        if self.peek().kind == "paren" and self.peek().text == "(":
            self.take()
            inner = self.or_()
            closing = self.take()
            if closing.kind != "paren" or closing.text != ")":
                raise SelectorError("missing closing parenthesis")
            return inner
        return self.match()

    def value(self) -> str:
        tok = self.take()
        if tok.kind not in ("string", "raw", "word") or tok.text in KEYWORDS:
            raise SelectorError(f"expected a value, found {tok.text or 'the end'!r}")
        return tok.value

    def selector(self) -> list[str]:
        tok = self.take()
        if tok.kind != "word" or tok.text in KEYWORDS or not _SELECTOR.match(tok.text):
            raise SelectorError(f"expected a selector, found {tok.text or 'the end'!r}")
        return tok.text.split(".")

    def match(self) -> Predicate:
        first = self.peek()
        following = self.peek(1)
        is_value_first = (
            first.kind in ("string", "raw")
            or (following.kind == "word" and following.text == "in")
            or (
                following.kind == "word"
                and following.text == "not"
                and self.peek(2).kind == "word"
                and self.peek(2).text == "in"
            )
        )
        if is_value_first:
            needle = self.value()
            negate = self.word("not")
            if not self.word("in"):
                raise SelectorError("expected 'in' after a value")
            path = self.selector()
            return _negated(lambda d: _contains(_resolve(d, path), needle), negate)
        path = self.selector()
        tok = self.take()
        if tok.kind == "op":
            expected = self.value()
            equal = tok.text == "=="
            return lambda d: (_scalar(_resolve(d, path)) == expected) == equal
        if tok.kind == "word" and tok.text == "is":
            negate = self.word("not")
            if not self.word("empty"):
                raise SelectorError("expected 'empty' after 'is'")
            return _negated(lambda d: len(_resolve(d, path)) == 0, negate)
        negate = tok.kind == "word" and tok.text == "not"
        verb = self.take() if negate else tok
        if verb.kind == "word" and verb.text == "contains":
            needle = self.value()
            return _negated(lambda d: _contains(_resolve(d, path), needle), negate)
        if verb.kind == "word" and verb.text == "matches":
            pattern = self.value()
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                raise SelectorError(f"invalid regular expression {pattern!r}: {exc}") from None
            return _negated(lambda d: regex.search(_scalar(_resolve(d, path))) is not None, negate)
        raise SelectorError(f"unexpected {verb.text or 'end of expression'!r} after a selector")


def _negated(predicate: Predicate, negate: bool) -> Predicate:
    return (lambda d: not predicate(d)) if negate else predicate


def _resolve(data: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            raise _Missing(".".join(path))
        data = data[part]
    return data


def _scalar(value: Any) -> str:
    if isinstance(value, list | dict):
        raise _Missing("not a single value")
    return str(value)


def _contains(container: Any, needle: str) -> bool:
    if isinstance(container, str):
        return needle in container
    if isinstance(container, list):
        return needle in [str(v) for v in container]
    if isinstance(container, dict):
        return needle in container
    return False


def compile_selector(source: str) -> Predicate:
    """A predicate over identity data; raises :class:`SelectorError` for bad syntax."""
    return _Parser(source).parse()


def matches(source: str, data: dict[str, Any]) -> bool:
    """Whether a binding rule's selector matches (empty: catch-all; errors: no match)."""
    if not source.strip():
        return True
    try:
        return compile_selector(source)(data)
    except (SelectorError, _Missing):
        return False
