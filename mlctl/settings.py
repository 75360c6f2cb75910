"""Settings: the only reader of environment variables and the context file.

Precedence, declared once in :func:`load_settings`:
command-line flags > environment (HashiCorp's own names plus ``MLCTL_*``) >
the active context of ``~/.config/mlctl/config.yaml`` > defaults.

Secrets (tokens) are never read from flags or from the context file: they come from
the environment or from the login cache that ``mlctl login`` writes (mode 0600).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from mlctl.errors import ConfigError, InvalidInput, NotFound


def _env(*names: str, secret: bool = False, flag: str | None = None) -> dict[str, Any]:
    return {"env": names, "secret": secret, "flag": flag}


def _default_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mlctl"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mlctl"


def _default_local_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("mlctl")) / "local"


@dataclass(frozen=True)
class Settings:
    """Every setting of mlctl, resolved from flags, env, the context file and defaults."""

    nomad_addr: str = field(default="http://127.0.0.1:4646", metadata=_env("NOMAD_ADDR"))
    """Address of the Nomad HTTP API (``NOMAD_ADDR``)."""

    nomad_token: str | None = field(default=None, metadata=_env("NOMAD_TOKEN", secret=True))
    """Nomad ACL secret ID (``NOMAD_TOKEN``); otherwise the token cached by ``mlctl login``."""

    nomad_namespace: str = field(default="default", metadata=_env("NOMAD_NAMESPACE"))
    """Nomad namespace that commands act in (``NOMAD_NAMESPACE``)."""

    nomad_region: str | None = field(default=None, metadata=_env("NOMAD_REGION"))
    """Nomad region to forward requests to (``NOMAD_REGION``)."""

    nomad_cacert: str | None = field(default=None, metadata=_env("NOMAD_CACERT"))
    """CA bundle that verifies Nomad's TLS certificate (``NOMAD_CACERT``)."""

    nomad_skip_verify: bool = field(default=False, metadata=_env("NOMAD_SKIP_VERIFY"))
    """Skip TLS verification for Nomad: insecure, warns on every call (``NOMAD_SKIP_VERIFY``)."""

    nomad_client_cert: str | None = field(default=None, metadata=_env("NOMAD_CLIENT_CERT"))
    """Client certificate for Nomad clusters that require mutual TLS (``NOMAD_CLIENT_CERT``)."""

    nomad_client_key: str | None = field(default=None, metadata=_env("NOMAD_CLIENT_KEY"))
    """Private key of ``nomad_client_cert`` (``NOMAD_CLIENT_KEY``)."""

    vault_addr: str = field(default="http://127.0.0.1:8200", metadata=_env("VAULT_ADDR"))
    """Address of the Vault HTTP API (``VAULT_ADDR``)."""

    vault_token: str | None = field(default=None, metadata=_env("VAULT_TOKEN", secret=True))
    """Vault token (``VAULT_TOKEN``); otherwise the token cached by ``mlctl login``."""

    vault_cacert: str | None = field(default=None, metadata=_env("VAULT_CACERT"))
    """CA bundle that verifies Vault's TLS certificate (``VAULT_CACERT``)."""

    vault_skip_verify: bool = field(default=False, metadata=_env("VAULT_SKIP_VERIFY"))
    """Skip TLS verification for Vault: insecure, warns (``VAULT_SKIP_VERIFY``)."""

    vault_configured: bool = field(default=False, metadata=_env())
    """Whether a Vault address was given (flag, ``VAULT_ADDR`` or the context) rather than
    defaulted: ``mlctl deploy`` then makes models require tokens (issue 15). Computed by
    :func:`load_settings`, never read from anywhere."""

    model_token: str | None = field(default=None, metadata=_env("MLCTL_MODEL_TOKEN", secret=True))
    """A bearer token for calling models (``mlctl predict``); otherwise one is obtained
    from Vault with the cached ``mlctl login``."""

    artifact_store: str | None = field(default=None, metadata=_env("MLCTL_ARTIFACT_STORE"))
    """Where bundles are uploaded: ``https://host/models`` (WebDAV PUT) or ``file:///dir``."""

    artifact_store_user: str | None = field(
        default=None, metadata=_env("MLCTL_ARTIFACT_STORE_USER")
    )
    """Basic-auth user for an HTTP artifact store."""

    artifact_store_password: str | None = field(
        default=None, metadata=_env("MLCTL_ARTIFACT_STORE_PASSWORD", secret=True)
    )
    """Basic-auth password for an HTTP artifact store (environment only, never a flag)."""

    artifact_store_cacert: str | None = field(
        default=None, metadata=_env("MLCTL_ARTIFACT_STORE_CACERT")
    )
    """CA bundle that verifies an HTTPS artifact store's certificate."""

    artifact_read_url: str | None = field(default=None, metadata=_env("MLCTL_ARTIFACT_READ_URL"))
    """Base URL Nomad clients download bundles from; the store URL when unset. It must
    serve GET without credentials: credentials in a job would leak to anyone who can
    read the job."""

    datacenters: tuple[str, ...] = field(default=("dc1",), metadata=_env("MLCTL_DATACENTERS"))
    """Nomad datacenters jobs may run in (comma-separated in the environment)."""

    node_pool: str | None = field(default=None, metadata=_env("MLCTL_NODE_POOL"))
    """Nomad node pool for model jobs; Nomad's ``default`` pool when unset."""

    runtime_image: str = field(
        default="mlctl/runtime:0.1.0-cpu", metadata=_env("MLCTL_RUNTIME_IMAGE")
    )
    """Docker image that runs the model server for CPU models (see docker/)."""

    gpu_runtime_image: str = field(
        default="mlctl/runtime:0.1.0-cuda", metadata=_env("MLCTL_GPU_RUNTIME_IMAGE")
    )
    """Docker image that runs the model server for GPU models (see docker/)."""

    # ---- the task driver and deploy defaults of a context (`mlctl local` sets them) ----

    task_driver: str = field(default="docker", metadata=_env("MLCTL_TASK_DRIVER"))
    """How model tasks run: ``docker`` (the runtime image) or ``raw_exec`` (the host's
    Python; the ``local`` context's choice, also for Nomad clients without Docker)."""

    raw_exec_python: str | None = field(default=None, metadata=_env("MLCTL_RAW_EXEC_PYTHON"))
    """raw_exec: the Python interpreter (with mlctl installed) on the Nomad clients; the
    interpreter running this mlctl when unset."""

    check_interval: str = field(default="10s", metadata=_env("MLCTL_CHECK_INTERVAL"))
    """How often Nomad checks a model's readiness (``1s`` in the ``local`` context)."""

    min_healthy_time: str = field(default="10s", metadata=_env("MLCTL_MIN_HEALTHY_TIME"))
    """How long a new allocation must stay healthy before a rollout moves on."""

    nomad_token_file: Path | None = field(default=None, metadata=_env("MLCTL_NOMAD_TOKEN_FILE"))
    """A file (mode 0600) holding the Nomad token, read when ``NOMAD_TOKEN`` is unset; the
    ``local`` context points at the runtime's management token this way."""

    local_dir: Path = field(default_factory=_default_local_dir, metadata=_env("MLCTL_LOCAL_DIR"))
    """State of ``mlctl local``: its SQLite database, token, allocations and artifacts."""

    output: str = field(default="table", metadata=_env("MLCTL_OUTPUT", flag="output"))
    """Output format: ``table`` for people, ``json`` for scripts."""

    state_dir: Path = field(default_factory=_default_state_dir, metadata=_env("MLCTL_STATE_DIR"))
    """Where login tokens are cached (directory 0700, files 0600)."""

    config_file: Path = field(
        default_factory=lambda: _default_config_dir() / "config.yaml",
        metadata=_env("MLCTL_CONFIG"),
    )
    """The context file."""

    context: str | None = field(default=None, metadata=_env("MLCTL_CONTEXT"))
    """Name of the context in use: ``--context``, else ``MLCTL_CONTEXT``, else the file's
    ``current-context``."""

    debug: bool = field(default=False, metadata=_env("MLCTL_DEBUG"))
    """Show tracebacks for errors."""

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (commands use it for per-command flags)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_public_dict(self) -> dict[str, Any]:
        """Every setting except secrets, which show only whether they are set."""
        result: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret"):
                result[f.name] = "set" if value else None
            else:
                result[f.name] = str(value) if isinstance(value, Path) else value
        return result


SETTING_NAMES = frozenset(f.name for f in fields(Settings))
SECRET_NAMES = frozenset(f.name for f in fields(Settings) if f.metadata.get("secret"))
# The context file may hold only these: addresses, namespaces, certificates, stores.
CONTEXT_KEYS = SETTING_NAMES - SECRET_NAMES - {
    "config_file",
    "context",
    "debug",
    "state_dir",
    "local_dir",
}


#: Nomad's namespace names (``^[a-zA-Z0-9-]{1,128}$``), or ``*`` for every namespace.
NAMESPACE_PATTERN = re.compile(r"^(?:[a-zA-Z0-9-]{1,128}|\*)$")
#: Context names: short lowercase labels, safe as YAML keys and in shell prompts.
CONTEXT_NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
#: Settings holding a URL: the schemes each accepts and an example for hints.
URL_SCHEMES: dict[str, tuple[tuple[str, ...], str]] = {
    "nomad_addr": (("http", "https"), "https://10.0.0.10:4646"),
    "vault_addr": (("http", "https"), "https://10.0.0.10:8200"),
    "artifact_store": (("http", "https", "file"), "https://10.0.0.10/models or file:///srv/models"),
    "artifact_read_url": (("http", "https", "file"), "https://10.0.0.10/models"),
}


#: Computed by load_settings from where vault_addr came from; no file may set it.
CONTEXT_KEYS -= {"vault_configured"}

#: The command-line flag of a setting where it is not ``--<name-with-dashes>``.
FLAG_NAMES = {
    "nomad_namespace": "--namespace",
    "nomad_region": "--region",
    "nomad_cacert": "--ca-cert",
    "vault_cacert": "--ca-cert",
    "nomad_skip_verify": "--skip-verify",
    "vault_skip_verify": "--skip-verify",
}


def check_context_name(name: str) -> str:
    """A context name, or InvalidInput saying what a name may hold."""
    if not CONTEXT_NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            f"context name {name!r} is not valid",
            hint="use 1-63 lowercase letters, digits and '-', e.g. lab or prod-eu",
        )
    return name


def _check_url(name: str, text: str, source: str) -> str:
    schemes, example = URL_SCHEMES[name]
    parts = urlsplit(text.strip())
    located = parts.hostname if parts.scheme != "file" else parts.path
    if parts.scheme not in schemes or not located:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ConfigError(
            f"{source}: {text!r} is not a {wanted} URL", hint=f"e.g. {example}"
        )
    return text


def _check_text(name: str, text: str, source: str) -> str:
    if name == "output" and text not in {"table", "json"}:
        raise ConfigError(f"{source}: {text!r} is not table or json")
    if name == "task_driver" and text not in {"docker", "raw_exec"}:
        raise ConfigError(f"{source}: {text!r} is not docker or raw_exec")
    if name == "nomad_namespace" and not NAMESPACE_PATTERN.fullmatch(text):
        raise ConfigError(
            f"{source}: {text!r} is not a Nomad namespace name",
            hint="1-128 letters, digits and '-' (or '*' to list every namespace)",
        )
    if name in URL_SCHEMES:
        return _check_url(name, text, source)
    return text


def _coerce(name: str, raw: Any, source: str) -> Any:
    """Turn a raw env/file value into the field's type, or say which value is wrong."""
    annotation = {f.name: f.type for f in fields(Settings)}[name]
    if raw is None:
        return None
    if "bool" in str(annotation):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{source}: {raw!r} is not a boolean", hint="use true or false")
    if "tuple" in str(annotation):
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(i).strip() for i in items if str(i).strip())
    if "Path" in str(annotation):
        return Path(str(raw)).expanduser()
    return _check_text(name, str(raw), source)


@dataclass
class ContextFile:
    """The parsed context file: named contexts and which one is current."""

    path: Path
    current: str | None = None
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> ContextFile:
        if not path.exists():
            return cls(path=path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot be read as YAML: {exc}".splitlines()[0]) from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        contexts = data.get("contexts") or {}
        if not isinstance(contexts, dict):
            raise ConfigError(f"{path}: contexts: must be a mapping of name to settings")
        for name, values in contexts.items():
            cls._check_context(path, str(name), values)
        current = data.get("current-context")
        return cls(path=path, current=str(current) if current else None, contexts=contexts)

    @staticmethod
    def _check_context(path: Path, name: str, values: Any) -> None:
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: contexts.{name}: must be a mapping")
        for key in values:
            if key in SECRET_NAMES:
                raise ConfigError(
                    f"{path}: contexts.{name}.{key}: secrets do not belong in the context file",
                    hint=f"remove it; use mlctl login or the {key.upper()} environment variable",
                )
            if key not in CONTEXT_KEYS:
                raise ConfigError(
                    f"{path}: contexts.{name}.{key}: unknown setting",
                    hint="known: " + ", ".join(sorted(CONTEXT_KEYS)),
                )

    def write(self) -> None:
        """Write atomically so an interrupted write never leaves half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = {"current-context": self.current, "contexts": self.contexts}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config-", suffix=".yaml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                yaml.safe_dump(body, handle, sort_keys=True)
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def config_path(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """Where the context file is, without reading it (so a broken file can be repaired)."""
    env = os.environ if env is None else env
    chosen = (flags or {}).get("config_file") or env.get("MLCTL_CONFIG")
    return Path(chosen).expanduser() if chosen else Settings().config_file


def output_format(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> str:
    """``table`` or ``json`` from the flag or ``MLCTL_OUTPUT`` alone, for the commands that
    edit the context file and so must work when a value in it is broken."""
    env = os.environ if env is None else env
    chosen = (flags or {}).get("output")
    if chosen is not None:
        return str(_coerce("output", chosen, "--output"))
    raw = env.get("MLCTL_OUTPUT")
    return str(_coerce("output", raw, "environment MLCTL_OUTPUT")) if raw else "table"


def load_settings(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Resolve settings: flags > env > active context > defaults."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    env_values = _from_env(env)
    config_file = config_path(flags, env)
    context_name = flags.get("context") or env_values.get("context")
    file = ContextFile.read(config_file)
    values.update(_from_context(file, context_name))
    values.update(env_values)
    # The context in force, as `context show` reports it: named, else the file's current.
    values["context"] = context_name or file.current
    for key, raw in flags.items():
        if key not in SETTING_NAMES:
            raise ValueError(f"unknown setting flag {key}")
        values[key] = _coerce(key, raw, FLAG_NAMES.get(key, f"--{key.replace('_', '-')}"))
    values["config_file"] = config_file
    values["vault_configured"] = "vault_addr" in values
    return Settings(**values)


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields(Settings):
        for name in f.metadata.get("env", ()):
            if name in env and env[name] != "":
                values[f.name] = _coerce(f.name, env[name], f"environment {name}")
                break
    return values


def _from_context(file: ContextFile, name: str | None) -> dict[str, Any]:
    chosen = name or file.current
    if not chosen:
        return {}
    if chosen not in file.contexts:
        raise NotFound(
            f"{file.path}: context {chosen!r} does not exist",
            hint="list them with: mlctl context list",
        )
    source = f"{file.path}: contexts.{chosen}"
    return {key: _coerce(key, raw, f"{source}.{key}") for key, raw in file.contexts[chosen].items()}
