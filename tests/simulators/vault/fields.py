"""Typed request fields, converted the way Vault's framework converts them.

Vault decodes every field with a typed schema before a handler runs: a value it cannot
convert is a 400 naming the field (``error converting input for field "token_ttl":
time: invalid duration "forever"``), never a dropped connection. Booleans follow Go's
``strconv.ParseBool`` (``"false"`` is false), integers ``strconv.ParseInt``, durations
Vault's ``parseutil`` (seconds or Go duration strings, never negative), string lists
accept a list or a comma-separated string, and maps accept an object or ``k=v`` pairs.

``prefix`` reproduces the endpoints whose schema check runs first and says
``Field validation failed: `` before the message (token create, renewals, secret-ids,
mount configuration).
"""

from __future__ import annotations

from typing import Any

from tests.simulators.vault.durations import DurationError, parse_duration
from tests.simulators.vault.state import VaultFailure

VALIDATION = "Field validation failed: "
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _fail(name: str, detail: str, prefix: str) -> VaultFailure:
    return VaultFailure(400, f'{prefix}error converting input for field "{name}": {detail}')


def duration(body: dict[str, Any], name: str, default: int = 0, prefix: str = "") -> int:
    """Seconds; ints, numeric strings and Go durations ("90s", "8h", "1h30m")."""
    if name not in body or body[name] in (None, ""):
        return default
    value = body[name]
    if isinstance(value, float) and not value.is_integer():
        raise _fail(name, f'time: missing unit in duration "{value}"', prefix)
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise _fail(name, f"cannot provide negative value '{int(value)}'", prefix)
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise _fail(name, str(exc), prefix) from None


def integer(body: dict[str, Any], name: str, default: int = 0, prefix: str = "") -> int:
    if name not in body or body[name] is None:
        return default
    value = body[name]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    raise _fail(name, "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax", prefix)


def boolean(body: dict[str, Any], name: str, default: bool = False, prefix: str = "") -> bool:
    if name not in body or body[name] is None:
        return default
    value = body[name]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    text = str(value)
    if text in _TRUE:
        return True
    if text in _FALSE or text == "":
        return False
    raise _fail(name, "'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax", prefix)


def strings(body: dict[str, Any], name: str, prefix: str = "") -> list[str]:
    """A list of strings, or one comma-separated string (numbers are converted)."""
    value = body.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    raise _fail(name, f"'' expected type '[]string', got {type(value).__name__}", prefix)


def string_map(body: dict[str, Any], name: str, prefix: str = "") -> dict[str, str]:
    """An object of strings, or a list of ``k=v`` pairs."""
    value = body.get(name)
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    pairs = value if isinstance(value, list) else [value]
    result: dict[str, str] = {}
    for index, pair in enumerate(pairs):
        key, sep, item = str(pair).partition("=")
        if not sep or not key:
            raise _fail(name, f'invalid key pair at index {index} in field "{name}"', prefix)
        result[key] = item
    return result


def mapping(body: dict[str, Any], name: str, prefix: str = "") -> dict[str, Any]:
    """A nested object such as a mount's ``config``."""
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(
            name,
            f"'' expected type 'map[string]interface {{}}', got unconvertible type "
            f"'{type(value).__name__}'",
            prefix,
        )
    return value
