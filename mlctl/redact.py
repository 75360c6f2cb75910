"""Defence in depth against leaking secrets into output.

Code that handles a secret (a token, a password) registers its value here; the CLI's
error printer and every emitter pass text through :func:`scrub` before it reaches a
terminal, a log or ``--output json``.
"""

from __future__ import annotations

from collections.abc import Iterable

_MASK = "[redacted]"
_secrets: set[str] = set()


def register(*values: str | None) -> None:
    """Remember secret values so they are masked wherever they would be printed."""
    for value in values:
        # Very short strings would mask ordinary words; real tokens are long.
        if value and len(value) >= 6:
            _secrets.add(value)


def forget_all() -> None:
    """Clear the registry (tests use it between cases)."""
    _secrets.clear()


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every registered (and every ``extra``) secret replaced by a mask."""
    for secret in sorted({*_secrets, *(e for e in extra if e)}, key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text
