"""The schema of ``mlctl.yaml`` (or ``config.json``), the bundle's configuration.

Pydantic models with ``extra="forbid"`` so a misspelt field is reported, not ignored.
Every field is documented in the README ("The bundle contract"); keep the two in step.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from mlctl.bundle.alerts import AlertsSection
from mlctl.schedule.spec import ScheduleSection

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
CONFIG_FILENAMES = ("mlctl.yaml", "mlctl.yml", "config.json")


def _pep508(value: str) -> str:
    """Only PEP 508 requirements: this also keeps pip options (``-r``, ``--index-url``) out."""
    try:
        Requirement(value)
    except InvalidRequirement as exc:
        first_line = str(exc).splitlines()[0]
        raise ValueError(f"{value!r} is not a PEP 508 requirement: {first_line}") from None
    return value


PipRequirement = Annotated[str, AfterValidator(_pep508)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelFormat(StrEnum):
    SKOPS = "skops"
    ONNX = "onnx"
    JOBLIB = "joblib"
    PICKLE = "pickle"

    @property
    def needs_pinned_hash(self) -> bool:
        """joblib/pickle run arbitrary code on load, so they load only with a pinned sha256."""
        return self in {ModelFormat.JOBLIB, ModelFormat.PICKLE}


class Datatype(StrEnum):
    """Tensor datatypes of the Open Inference Protocol v2."""

    BOOL = "BOOL"
    UINT8 = "UINT8"
    UINT16 = "UINT16"
    UINT32 = "UINT32"
    UINT64 = "UINT64"
    INT8 = "INT8"
    INT16 = "INT16"
    INT32 = "INT32"
    INT64 = "INT64"
    FP16 = "FP16"
    FP32 = "FP32"
    FP64 = "FP64"
    BYTES = "BYTES"


class ModelFile(Strict):
    file: str = Field(description="Path of the model file, relative to the bundle root.")
    format: ModelFormat = Field(description="skops | onnx | joblib | pickle.")
    sha256: Annotated[str, Field(pattern=SHA256_PATTERN)] | None = Field(
        default=None, description="Pinned sha256 of the model file; required for joblib/pickle."
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="skops: extra types trusted on load beyond skops' defaults.",
    )

    @field_validator("file")
    @classmethod
    def _relative_inside(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.replace("\\", "/").split("/"):
            raise ValueError("must be a relative path inside the bundle")
        return value

    @model_validator(mode="after")
    def _pinned_when_unsafe(self) -> ModelFile:
        if self.format.needs_pinned_hash and not self.sha256:
            raise ValueError(
                f"format {self.format.value} can run arbitrary code when loaded; "
                "pin the file with model.sha256 (sha256sum of the file) or use skops/onnx"
            )
        return self


class TensorSpec(Strict):
    name: str = Field(min_length=1, description="Tensor name as sent by clients.")
    datatype: Datatype = Field(description="Open Inference Protocol datatype.")
    shape: list[int] = Field(
        min_length=1, description="Dimensions; -1 means any size (the batch axis is first)."
    )

    @field_validator("shape")
    @classmethod
    def _dims(cls, value: list[int]) -> list[int]:
        if any(d < -1 or d == 0 for d in value):
            raise ValueError("dimensions are positive integers or -1 (any size)")
        return value


class Signature(Strict):
    inputs: list[TensorSpec] = Field(min_length=1)
    outputs: list[TensorSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Signature:
        # Clients address tensors by name (Open Inference Protocol), so names must not repeat.
        for side, specs in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [spec.name for spec in specs]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValueError(f"{side} names must be unique; repeated: {', '.join(repeated)}")
        return self


class GpuRequest(Strict):
    count: int = Field(default=1, ge=1, le=16, description="GPUs per replica.")
    memory: int | None = Field(default=None, ge=1, description="Minimum memory of each GPU in MiB.")
    model: str | None = Field(
        default=None, description="Preferred GPU model (an affinity, e.g. 'Tesla T4')."
    )


class Resources(Strict):
    cpu: int = Field(default=500, ge=10, description="CPU per replica in MHz.")
    memory: int = Field(default=512, ge=32, description="Memory per replica in MiB.")
    gpu: GpuRequest | None = Field(default=None, description="GPUs per replica, if any.")


class AuthMode(StrEnum):
    """Who may call a served model: anyone who reaches its port, or bearers of a JWT."""

    NONE = "none"
    JWT = "jwt"


#: The audience (``aud``) of the identity tokens Vault signs for model callers, and the
#: claims that carry what a caller may use (written by ``mlctl access``, checked by the
#: model server). ``mlctl_*`` names: Vault reserves ``namespace``, ``sub``, ``aud`` ...
MODEL_AUDIENCE = "mlctl-models"
MODELS_CLAIM = "mlctl_models"  # ["<namespace>/<model>", ...]
NAMESPACES_CLAIM = "mlctl_namespaces"  # ["<namespace>" or "*", ...]: every model there
METRICS_CLAIM = "mlctl_metrics"  # ["<namespace>" or "*", ...]: may read /metrics
CALLER_CLAIM = "mlctl_caller"  # "user:alice" or "app:billing", for the access log
_CLAIM_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"


def _http_url(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


HttpUrlText = Annotated[str | None, AfterValidator(_http_url)]


class ServingAuth(Strict):
    """``serving.auth``: how the model server checks its callers (issue 15).

    ``mode`` unset means "let the deployment decide": ``mlctl deploy`` picks ``jwt``
    when the context has a Vault address (and fills ``issuer`` and ``jwks_url`` from
    it), ``none`` otherwise; ``mlctl serve`` runs with ``none`` unless told.
    """

    mode: AuthMode | None = Field(default=None, description="none | jwt; unset: deploy decides.")
    issuer: str | None = Field(
        default=None, min_length=1, description="Expected iss; deploy asks Vault when unset."
    )
    audience: str = Field(default=MODEL_AUDIENCE, min_length=1, description="Expected aud.")
    jwks_url: HttpUrlText = Field(
        default=None, description="Signing keys; deploy uses Vault's identity/oidc keys."
    )
    models_claim: str = Field(default=MODELS_CLAIM, pattern=_CLAIM_NAME)
    namespaces_claim: str = Field(default=NAMESPACES_CLAIM, pattern=_CLAIM_NAME)
    metrics: Literal["open", "token"] = Field(
        default="open", description="token: /metrics needs a token with the metrics claim."
    )
    metrics_claim: str = Field(default=METRICS_CLAIM, pattern=_CLAIM_NAME)
    leeway_s: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf.")


class Serving(Strict):
    port: int = Field(default=8080, ge=1, le=65535, description="Port the server listens on.")
    max_batch_size: int = Field(default=32, ge=1, le=4096)
    max_batch_wait_ms: float = Field(default=2.0, ge=0, le=1000)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    workers: int = Field(default=1, ge=1, le=64)
    # Bounds on one request's work and on stopping (issue 14), documented in the README.
    max_batch_rows: int = Field(default=2048, ge=1, le=1_048_576)
    max_response_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    inference_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    drain_timeout_s: float = Field(default=25.0, ge=1, le=3600)
    # Who may call the model (issue 15), documented in the README.
    auth: ServingAuth = Field(default_factory=ServingAuth)


DURATION_PATTERN = r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NANOSECONDS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def duration_ns(text: str) -> float:
    """A Go duration (``1m30s``), as Nomad reads it, in nanoseconds."""
    return sum(float(num) * _NANOSECONDS[unit] for num, unit in _DURATION_PART.findall(text))


Duration = Annotated[str, Field(pattern=DURATION_PATTERN)]


class Update(Strict):
    """How Nomad rolls out a new version: the job's ``update`` block.

    With ``canary: N`` a new version first runs N extra allocations; once they are
    healthy the rollout waits for ``mlctl promote`` (or promotes itself with
    ``auto_promote``), then replaces the old allocations ``max_parallel`` at a time.
    """

    canary: int = Field(default=0, ge=0, le=100, description="Canary allocations per rollout.")
    auto_promote: bool = Field(default=False, description="Promote healthy canaries by itself.")
    max_parallel: int = Field(default=1, ge=1, le=1000, description="Allocations replaced at once.")
    min_healthy_time: Duration = Field(default="10s", description="Healthy this long to count.")
    healthy_deadline: Duration = Field(default="5m", description="Time to become healthy.")
    progress_deadline: Duration = Field(default="10m", description="Time for any progress.")

    @model_validator(mode="after")
    def _consistent(self) -> Update:
        if duration_ns(self.progress_deadline) <= duration_ns(self.healthy_deadline):
            raise ValueError(
                f"progress_deadline {self.progress_deadline} must be longer than "
                f"healthy_deadline {self.healthy_deadline}"
            )
        if self.auto_promote and self.canary == 0:
            raise ValueError("auto_promote needs canary: 1 or more")
        return self


class BundleConfig(Strict):
    """The whole ``mlctl.yaml``."""

    name: str = Field(description="Model name: a DNS label.")
    version: str = Field(min_length=1, max_length=64, description="Model version, e.g. 1.0.0.")
    description: str = ""
    model: ModelFile
    requirements: list[PipRequirement] = Field(
        default_factory=list, description="Python requirements (PEP 508, as pip takes them)."
    )
    signature: Signature
    resources: Resources = Field(default_factory=Resources)
    replicas: int = Field(default=1, ge=0, le=1000)
    serving: Serving = Field(default_factory=Serving)
    update: Update = Field(default_factory=Update)
    schedule: ScheduleSection | None = Field(
        default=None, description="Start/stop windows (mlctl.schedule.spec); applied on deploy."
    )
    alerts: AlertsSection | None = None  # health rules, actions, prediction notifications

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: Any) -> Any:
        # YAML reads `version: 1.10` as the number 1.1; refuse rather than guess.
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f'write it in quotes, e.g. version: "{value}" (YAML read a number)')
        return value

    @field_validator("version")
    @classmethod
    def _version_chars(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", value):
            raise ValueError("use letters, digits and . _ + - only")
        return value

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        # The name becomes a Nomad job ID, a service name and a DNS label, hence the rule.
        if not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(
                "must be a DNS label: 1-63 lowercase letters, digits or '-', "
                "starting and ending with a letter or digit"
            )
        return value
