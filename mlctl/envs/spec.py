"""The environment spec (``mlctl env create -f env.yaml``): what a workspace or app needs.

Pydantic models with ``extra="forbid"``, like the bundle schema, so a misspelt field is
reported rather than ignored. Seed 001's JSON contract is converted to this shape first
(:mod:`mlctl.envs.seed`). Cross-field checks that need the template catalog (variables,
GPU templates) live in :mod:`mlctl.envs.load`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from mlctl.bundle.schema import NAME_PATTERN, PipRequirement, Strict

_LABEL = r"^[a-zA-Z0-9_]{1,63}$"
_TARGET = re.compile(r"^/[A-Za-z0-9._/-]*$")
_CHECKSUM = r"^(sha256|sha512|md5|sha1):[0-9a-f]+$"
#: Directories a mount must not hide: Nomad's own task layout and the system.
RESERVED_TARGETS = ("/local", "/secrets", "/alloc", "/proc", "/sys", "/dev", "/etc", "/usr")


class GpuSpec(Strict):
    count: int = Field(default=1, ge=1, le=16, description="GPUs for the environment.")
    memory: int | None = Field(default=None, ge=1, description="Minimum memory of each GPU, MiB.")
    model: str | None = Field(default=None, description="Preferred GPU model (an affinity).")


class EnvResources(Strict):
    """Unset fields take the template's defaults (``mlctl env templates``)."""

    cpu: int | None = Field(default=None, ge=10, le=1_000_000, description="CPU in MHz.")
    memory: int | None = Field(default=None, ge=32, le=4_194_304, description="Memory in MiB.")
    disk: int | None = Field(default=None, ge=10, le=16_777_216, description="Scratch disk, MiB.")
    gpu: GpuSpec | None = None


def _target(value: str) -> str:
    if not _TARGET.match(value) or ".." in value.split("/") or "//" in value:
        raise ValueError("must be an absolute path of letters, digits, '.', '_', '-' and '/'")
    if any(value == r or value.startswith(r + "/") for r in RESERVED_TARGETS):
        raise ValueError(f"{value} is reserved (Nomad's task layout or a system directory)")
    return value.rstrip("/") or "/"


class Dataset(Strict):
    """Read-only data: a file from the artifact store (or any URL) or a host/CSI volume."""

    name: str = Field(pattern=_LABEL, description="Label; becomes local/datasets/<name>.")
    source: str | None = Field(default=None, description="URL Nomad downloads (no credentials).")
    checksum: str | None = Field(default=None, pattern=_CHECKSUM, description="e.g. sha256:<hex>.")
    volume: str | None = Field(default=None, description="Host or CSI volume name to mount.")
    volume_type: str = Field(default="host", pattern=r"^(host|csi)$")
    target: str | None = Field(default=None, description="Mount point for a volume.")

    @field_validator("target")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return None if value is None else _target(value)

    @model_validator(mode="after")
    def _one_source(self) -> Dataset:
        if (self.source is None) == (self.volume is None):
            raise ValueError("give exactly one of source (a URL) or volume (a volume name)")
        if self.source is not None:
            if "@" in self.source.split("://", 1)[-1].split("/", 1)[0]:
                raise ValueError("source must not carry credentials (user:password@)")
            if not re.match(r"^(https?|file)://", self.source):
                raise ValueError("source must be an http(s):// or file:// URL")
            if self.checksum is None and not self.source.startswith("file://"):
                raise ValueError("a downloaded dataset needs checksum (sha256:<hex>)")
        return self


class Port(Strict):
    label: str = Field(pattern=_LABEL)
    to: int = Field(ge=1, le=65535, description="Port inside the task.")
    static: int | None = Field(default=None, ge=1, le=65535, description="Fixed host port.")


class Lifecycle(StrEnum):
    TEMPORARY = "temporary"  #: the allocation's ephemeral disk: gone with the allocation
    PERSISTENT = "persistent"  #: a named host or CSI volume: outlives the environment


class Storage(Strict):
    target: str = Field(description="Mount point (persistent) or label (temporary).")
    size: int | None = Field(default=None, ge=1, description="MiB (temporary storage).")
    lifecycle: Lifecycle = Lifecycle.TEMPORARY
    volume: str | None = Field(default=None, description="Volume name (persistent only).")
    volume_type: str = Field(default="host", pattern=r"^(host|csi)$")

    @field_validator("target")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return _target(value)

    @model_validator(mode="after")
    def _volume_when_persistent(self) -> Storage:
        if self.lifecycle is Lifecycle.PERSISTENT and not self.volume:
            raise ValueError("persistent storage needs volume (a host or CSI volume name)")
        if self.lifecycle is Lifecycle.TEMPORARY and self.volume:
            raise ValueError("temporary storage is the allocation's disk; remove volume")
        if self.lifecycle is Lifecycle.TEMPORARY and self.size is None:
            raise ValueError("temporary storage needs size (MiB)")
        return self


class EnvSpec(Strict):
    """The whole environment spec."""

    name: str = Field(description="Environment name: a DNS label.")
    template: str = Field(description="Template name (mlctl env templates).")
    description: str = ""
    image: str | None = Field(default=None, description="Overrides the template's image.")
    packages: list[PipRequirement] = Field(default_factory=list, description="pip packages.")
    resources: EnvResources = Field(default_factory=EnvResources)
    datasets: list[Dataset] = Field(default_factory=list)
    ports: list[Port] = Field(default_factory=list)
    storage: list[Storage] = Field(default_factory=list)
    app: str | None = Field(default=None, description="App directory (python-service/batch).")
    variables: dict[str, Any] = Field(default_factory=dict, description="Template variables.")

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(
                "must be a DNS label: 1-63 lowercase letters, digits or '-', "
                "starting and ending with a letter or digit"
            )
        return value

    @field_validator("packages")
    @classmethod
    def _no_template_syntax(cls, value: list[str]) -> list[str]:
        # Packages reach the task through a Nomad template block: keep them inert there.
        for package in value:
            if "{{" in package or "}}" in package:
                raise ValueError(f"{package!r}: '{{{{' and '}}}}' are not allowed")
        return value

    @model_validator(mode="after")
    def _unique(self) -> EnvSpec:
        for what, names in (
            ("datasets", [d.name for d in self.datasets]),
            ("ports", [p.label for p in self.ports]),
            ("storage targets", [s.target for s in self.storage]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{what} must be unique; repeated: {', '.join(repeated)}")
        return self
