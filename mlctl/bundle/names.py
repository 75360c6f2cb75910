"""The one rule for paths inside a bundle, shared by packaging and unpacking.

A path that packaging accepts is always one that unpacking accepts, and neither lets
a name climb out of the bundle or smuggle in characters that confuse terminals or
other platforms.
"""

from __future__ import annotations

import unicodedata

from mlctl.bundle.limits import MAX_PATH_BYTES


def name_problem(name: str) -> str | None:
    """Why ``name`` (a ``/``-separated relative path) is not allowed, or None if it is."""
    if not name:
        return "empty path"
    if name.startswith("/"):
        return "absolute path"
    if "\\" in name:
        return "backslash in path (a separator on Windows)"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "control character in path"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "path is not valid UTF-8"
    if len(encoded) > MAX_PATH_BYTES:
        return f"path longer than {MAX_PATH_BYTES} bytes"
    parts = name.split("/")
    if ".." in parts:
        return "'..' in path (climbs out of the bundle)"
    if any(part in {"", "."} for part in parts):
        return "empty or '.' path component"
    return None


def printable(name: str) -> str:
    """``name`` safe to print in one line: control characters and bad bytes escaped."""
    escaped = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(
        f"\\x{ord(char):02x}" if unicodedata.category(char) == "Cc" else char for char in escaped
    )
