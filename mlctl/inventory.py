"""Ansible inventories for mlctl clusters: written from a short host list, read for contexts.

The host list (``hosts.yaml``) names each machine, its address and its roles; the
inventory maps roles onto the groups ``playbooks/site.yml`` applies:

=================  ==================================
role               inventory group(s)
=================  ==================================
``server``         ``nomad_servers``
``client``         ``nomad_clients``
``gpu``            ``gpu_clients`` and ``nomad_clients``
``vault``          ``vault_servers``
``artifact_store`` ``artifact_store``
=================  ==================================

Every host gets ``mlctl_address``: the address other nodes and mlctl use to reach it
(Nomad advertises it, Vault's api_addr uses it). ``ansible_host`` is where Ansible
connects over SSH and defaults to the same address.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlctl.errors import InvalidInput, NotFound

Role = Literal["server", "client", "gpu", "vault", "artifact_store"]
ROLE_GROUPS: dict[str, tuple[str, ...]] = {
    "server": ("nomad_servers",),
    "client": ("nomad_clients",),
    "gpu": ("gpu_clients", "nomad_clients"),
    "vault": ("vault_servers",),
    "artifact_store": ("artifact_store",),
}
GROUPS = ("nomad_servers", "nomad_clients", "gpu_clients", "vault_servers", "artifact_store")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.match(value):
            raise ValueError(f"{value!r} is neither an IP address nor a host name") from None
    return value


class HostSpec(BaseModel):
    """One machine of the cluster."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Inventory name of the host (letters, digits, . _ -).")
    address: str = Field(description="Address other nodes and mlctl reach the host on.")
    roles: list[Role] = Field(min_length=1, description="What the host runs.")
    user: str | None = Field(default=None, description="SSH user (ansible_user).")
    ssh_address: str | None = Field(
        default=None, description="Where Ansible connects, if not at address."
    )
    port: int | None = Field(default=None, ge=1, le=65535, description="SSH port.")
    vars: dict[str, Any] = Field(default_factory=dict, description="More host variables.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a valid host name (letters, digits, . _ -)")
        return value

    @field_validator("address", "ssh_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else _check_address(value)


class ClusterSpec(BaseModel):
    """The whole host list: hosts plus variables for every host."""

    model_config = ConfigDict(extra="forbid")

    hosts: list[HostSpec] = Field(min_length=1)
    vars: dict[str, Any] = Field(default_factory=dict, description="Variables for all hosts.")


def read_hosts_file(path: Path) -> ClusterSpec:
    """Parse and validate a host list; every problem is reported as ``file: field: problem``."""
    if not path.is_file():
        raise NotFound(f"{path}: no such host list")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "syntax"
        raise InvalidInput(f"{path}: {where}: not valid YAML") from exc
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{path}: the top level must be a mapping with a hosts: list")
    try:
        spec = ClusterSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{path}: {_field(e['loc'])}: {_message(e)}" for e in exc.errors()]
        raise _invalid(problems) from exc
    problems = [f"{path}: {p}" for p in _cluster_problems(spec)]
    if problems:
        raise _invalid(problems)
    return spec


def _invalid(problems: list[str]) -> InvalidInput:
    if len(problems) == 1:
        return InvalidInput(problems[0])
    return InvalidInput(
        f"{len(problems)} problems: " + "; ".join(problems),
        hint="fix them and run the command again",
    )


def _field(location: tuple[Any, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _message(error: Mapping[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if error.get("type") == "literal_error":
        return f"{error.get('input')!r} is not one of " + ", ".join(ROLE_GROUPS)
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def _cluster_problems(spec: ClusterSpec) -> list[str]:
    """Checks across hosts: unique names, and the roles a cluster cannot do without."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, host in enumerate(spec.hosts):
        if host.name in seen:
            problems.append(
                f"hosts[{index}].name: {host.name!r} is already used by hosts[{seen[host.name]}]"
            )
        seen.setdefault(host.name, index)
    problems += _value_problems("vars", spec.vars)
    for index, host in enumerate(spec.hosts):
        problems += _value_problems(f"hosts[{index}].vars", host.vars)
    roles = {role for host in spec.hosts for role in host.roles}
    if "server" not in roles:
        problems.append("hosts: no host has the server role (Nomad needs at least one server)")
    if not roles & {"client", "gpu"}:
        problems.append("hosts: no host has the client or gpu role (nothing could run models)")
    return problems


_PLACEHOLDER = re.compile(r"^<[^<>]*>$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _value_problems(where: str, values: Any) -> list[str]:
    """Values copied from an example but never filled in, and malformed checksums."""
    problems: list[str] = []
    items = values.items() if isinstance(values, Mapping) else enumerate(values)
    for key, value in items:
        field = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}"
        if isinstance(value, Mapping | list):
            problems += _value_problems(field, value)
        elif isinstance(value, str) and _PLACEHOLDER.match(value.strip()):
            problems.append(f"{field}: {value!r} is a placeholder: put the real value there")
        elif _bad_checksum(key, value):
            problems.append(f"{field}: {value!r} is not a sha256 (64 lowercase hex digits)")
    return problems


def _bad_checksum(key: Any, value: Any) -> bool:
    if not (isinstance(key, str) and key.endswith("sha256")) or value in (None, ""):
        return False
    return not (isinstance(value, str) and _SHA256.match(value))


def build_inventory(spec: ClusterSpec) -> dict[str, Any]:
    """The Ansible YAML inventory for a validated host list."""
    hosts: dict[str, dict[str, Any]] = {}
    children: dict[str, dict[str, Any]] = {group: {"hosts": {}} for group in GROUPS}
    for host in spec.hosts:
        hostvars: dict[str, Any] = {
            "ansible_host": host.ssh_address or host.address,
            "mlctl_address": host.address,
        }
        if host.user:
            hostvars["ansible_user"] = host.user
        if host.port:
            hostvars["ansible_port"] = host.port
        hostvars.update(host.vars)
        hosts[host.name] = hostvars
        for role in host.roles:
            for group in ROLE_GROUPS[role]:
                children[group]["hosts"][host.name] = None
    inventory: dict[str, Any] = {"hosts": hosts, "children": children}
    if spec.vars:
        inventory["vars"] = dict(spec.vars)
    return {"all": inventory}


def inventory_yaml(spec: ClusterSpec, source: str) -> str:
    header = (
        f"# Ansible inventory written by `mlctl cluster inventory {source}`.\n"
        "# Provision with: mlctl cluster provision -i THIS_FILE\n"
    )
    return header + yaml.safe_dump(build_inventory(spec), sort_keys=False, default_flow_style=False)


def write_atomically(path: Path, text: str) -> None:
    """Write the whole file or nothing (a temp file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- reading an inventory back: where are Nomad, Vault and the artifact store? -----------


@dataclass(frozen=True)
class Endpoints:
    """Addresses of a provisioned cluster, as the roles configured them."""

    nomad_addr: str
    vault_addr: str | None
    artifact_store: str | None
    nomad_cacert: str | None = None
    vault_cacert: str | None = None

    def context_values(self) -> dict[str, str]:
        values = {
            "nomad_addr": self.nomad_addr,
            "vault_addr": self.vault_addr,
            "artifact_store": self.artifact_store,
            "nomad_cacert": self.nomad_cacert,
            "vault_cacert": self.vault_cacert,
        }
        return {k: v for k, v in values.items() if v}


def load_inventory(path: Path) -> dict[str, Any]:
    """Ask Ansible itself to read any inventory format (YAML, INI, Vagrant's generated one)."""
    if not path.exists():
        raise NotFound(f"{path}: inventory does not exist")
    from ansible_runner.interface import get_inventory

    out, err = get_inventory(
        action="list", inventories=[str(path.resolve())], response_format="json", quiet=True
    )
    if not isinstance(out, dict):
        lines = (err or str(out) or "no output").strip().splitlines() or ["no output"]
        raise InvalidInput(f"{path}: Ansible cannot read this inventory: {lines[-1]}")
    return out


@dataclass(frozen=True)
class _Hosts:
    """Group membership and host variables of an ``ansible-inventory --list`` answer."""

    inventory: Mapping[str, Any]

    def first(self, group: str) -> str | None:
        hosts = (self.inventory.get(group) or {}).get("hosts") or []
        return str(hosts[0]) if hosts else None

    def var(self, host: str, name: str, default: Any = None) -> Any:
        hostvars = (self.inventory.get("_meta") or {}).get("hostvars") or {}
        return (hostvars.get(host) or {}).get(name, default)

    def url(self, host: str, tls_var: str, port_var: str, port: int) -> str:
        scheme = "https" if _truthy(self.var(host, tls_var, False)) else "http"
        address = self.var(host, "mlctl_address", self.var(host, "ansible_host", host))
        return f"{scheme}://{address}:{self.var(host, port_var, port)}"


def endpoints(inventory: Mapping[str, Any], source: str = "inventory") -> Endpoints:
    """Where mlctl should talk to: the first host of each group, with its role variables."""
    hosts = _Hosts(inventory)
    server = hosts.first("nomad_servers")
    if server is None:
        raise InvalidInput(f"{source}: group nomad_servers has no hosts")
    nomad_tls = _truthy(hosts.var(server, "nomad_tls_enabled", False))
    vault_addr = vault_ca = None
    if (vault := hosts.first("vault_servers")) is not None:
        vault_addr = hosts.url(vault, "vault_tls_enabled", "vault_api_port", 8200)
        if _truthy(hosts.var(vault, "vault_tls_enabled", False)):
            vault_ca = hosts.var(vault, "vault_tls_ca_src")
    return Endpoints(
        nomad_addr=hosts.url(server, "nomad_tls_enabled", "nomad_http_port", 4646),
        vault_addr=vault_addr,
        artifact_store=_store_url(hosts),
        nomad_cacert=hosts.var(server, "nomad_tls_ca_src") if nomad_tls else None,
        vault_cacert=vault_ca,
    )


def _store_url(hosts: _Hosts) -> str | None:
    host = hosts.first("artifact_store")
    if host is None:
        return None
    tls = _truthy(hosts.var(host, "artifact_store_tls_enabled", False))
    default_port = 443 if tls else 80
    url = hosts.url(host, "artifact_store_tls_enabled", "artifact_store_port", default_port)
    url = url.removesuffix(f":{default_port}")
    return url + str(hosts.var(host, "artifact_store_location", "/models"))


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}
