"""What ``mlctl serve`` serves and how: one frozen, picklable value.

Picklable on purpose: with ``--workers N`` uvicorn spawns fresh processes and hands
each the app factory together with these options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlctl.bundle.schema import Serving


@dataclass(frozen=True)
class ServeOptions:
    """Server settings; ``None`` means "take it from the bundle's ``serving`` section"."""

    bundle_dir: Path
    host: str = "127.0.0.1"
    port: int | None = None
    workers: int | None = None
    max_batch_size: int | None = None
    max_batch_wait_ms: float | None = None
    max_body_bytes: int | None = None
    access_log: bool = True

    def resolve(self, serving: Serving) -> ResolvedServing:
        """Flags win over the bundle's ``serving`` section."""
        return ResolvedServing(
            port=serving.port if self.port is None else self.port,
            workers=serving.workers if self.workers is None else self.workers,
            max_batch_size=serving.max_batch_size
            if self.max_batch_size is None
            else self.max_batch_size,
            max_batch_wait_ms=serving.max_batch_wait_ms
            if self.max_batch_wait_ms is None
            else self.max_batch_wait_ms,
            max_body_bytes=serving.max_body_bytes
            if self.max_body_bytes is None
            else self.max_body_bytes,
        )


@dataclass(frozen=True)
class ResolvedServing:
    port: int
    workers: int
    max_batch_size: int
    max_batch_wait_ms: float
    max_body_bytes: int
