"""What ``mlctl serve`` serves and how: one frozen, picklable value.

Picklable on purpose: with ``--workers N`` each worker process is started with these
options and loads the model itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from mlctl.bundle.schema import AuthMode, Serving, ServingAuth
from mlctl.serve.protocol import ConnectionLimits

if TYPE_CHECKING:
    from mlctl.serve.auth import AuthSettings


@dataclass(frozen=True)
class ServeOptions:
    """Server settings; ``None`` means "take it from the bundle's ``serving`` section"."""

    bundle_dir: Path
    host: str = "127.0.0.1"
    port: int | None = None
    workers: int | None = None
    max_batch_size: int | None = None
    max_batch_rows: int | None = None
    max_batch_wait_ms: float | None = None
    max_body_bytes: int | None = None
    max_response_bytes: int | None = None
    inference_timeout_s: float | None = None
    drain_timeout_s: float | None = None
    access_log: bool = True
    #: Per-connection limits (header size and count, timeouts, connection count).
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    # Who may call (issue 15): None takes ``serving.auth``; a Nomad job sets them through
    # the task's MLCTL_AUTH_* environment (see mlctl.render.model_job).
    auth_mode: AuthMode | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_jwks_url: str | None = None
    auth_jwks_ca_pem: str | None = None
    auth_namespace: str | None = None

    def resolve_auth(self, section: ServingAuth) -> AuthSettings:
        """Flags (and the job's environment) win over the bundle's ``serving.auth``."""
        from mlctl.serve.auth import AuthSettings

        return AuthSettings.from_bundle(
            section,
            mode=self.auth_mode,
            issuer=self.auth_issuer,
            audience=self.auth_audience,
            jwks_url=self.auth_jwks_url,
            jwks_ca_pem=self.auth_jwks_ca_pem,
            namespace=self.auth_namespace,
        )

    def resolve(self, serving: Serving) -> ResolvedServing:
        """Flags win over the bundle's ``serving`` section."""
        values = {
            f.name: getattr(self, f.name)
            if getattr(self, f.name, None) is not None
            else getattr(serving, f.name)
            for f in fields(ResolvedServing)
        }
        return ResolvedServing(**values)


@dataclass(frozen=True)
class ResolvedServing:
    port: int
    workers: int
    max_batch_size: int
    max_batch_rows: int
    max_batch_wait_ms: float
    max_body_bytes: int
    max_response_bytes: int
    inference_timeout_s: float
    drain_timeout_s: float
