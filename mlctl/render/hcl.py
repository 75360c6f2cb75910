"""Jinja2 filters that turn Python values into HCL literals that cannot break out.

Every user-supplied value reaches a jobspec through one of these filters, so a model
name, a meta value or a URL can never close its string, add an attribute, or start an
HCL template sequence that Nomad would evaluate.

Why ``{`` after ``$``/``%`` is written as ``\\u007b`` rather than the ``$${`` escape:
both are valid HCL and hashicorp/hcl (what Nomad parses with) decodes both to a literal
``${``. python-hcl2, which the tests and the Nomad simulator parse with, only accepts
``$${`` when a ``}`` follows later in the same source, and even then keeps the doubled
``$`` in the value it returns. ``$\\u007b`` has no interpolation marker in the source
at all, so every parser in our tool chain agrees on the value, byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from mlctl.errors import InvalidInput

_SIMPLE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators: written as
# \uNNNN so the rendered file stays one readable line per attribute.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_TEMPLATE_START = re.compile(r"([$%])\{")
_SURROGATE = re.compile("[\ud800-\udfff]")


def hcl_string(value: object) -> str:
    """A quoted HCL string literal whose parsed value is exactly ``value``."""
    if not isinstance(value, str):
        raise TypeError(f"hcl filter expects a string, got {type(value).__name__}: {value!r}")
    if _SURROGATE.search(value):
        raise InvalidInput(
            f"{value!r} contains a lone surrogate code point, which cannot be written as UTF-8"
        )
    escaped = "".join(_SIMPLE.get(char, char) for char in value)
    escaped = _CONTROL.sub(lambda m: f"\\u{ord(m.group(0)):04x}", escaped)
    escaped = _TEMPLATE_START.sub(lambda m: m.group(1) + "\\u007b", escaped)
    return f'"{escaped}"'


def hcl_int(value: object) -> str:
    """An HCL number from a real ``int``; refuses bools, floats and numeric strings."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"hcl_int filter expects an int, got {type(value).__name__}: {value!r}")
    return str(value)


def hcl_bool(value: object) -> str:
    """``true``/``false`` from a real ``bool``; anything else is a template bug."""
    if not isinstance(value, bool):
        raise TypeError(f"hcl_bool filter expects a bool, got {type(value).__name__}: {value!r}")
    return "true" if value else "false"


def hcl_list(values: Iterable[object]) -> str:
    """An HCL list of string literals, each escaped by :func:`hcl_string`."""
    if isinstance(values, str | bytes | Mapping):
        raise TypeError(f"hcl_list filter expects a list of strings, got {values!r}")
    return "[" + ", ".join(hcl_string(v) for v in values) + "]"


FILTERS = {"hcl": hcl_string, "hcl_int": hcl_int, "hcl_bool": hcl_bool, "hcl_list": hcl_list}
