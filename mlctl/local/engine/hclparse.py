"""``POST /v1/jobs/parse``: HCL2 jobspec -> API JSON job, for the constructs mlctl uses.

python-hcl2 gives a raw tree (quoted strings, ``__is_block__`` markers); this module
walks it with a table of the blocks and arguments each Nomad block accepts and turns
them into the API's CamelCase JSON.  Anything not in the tables is rejected the way
Nomad's parser rejects it ("Unsupported argument" / "Unsupported block type"), and so
are HCL expressions that would need variables or functions (our templates render
literal values with Jinja2 before parsing).  Runtime interpolations such as
``${attr.kernel.name}`` or ``${NOMAD_PORT_http}`` stay literal, as in Nomad.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hcl2
from hcl2 import SerializationOptions

from .durations import parse_duration

JSON = dict[str, Any]
Conv = Callable[[Any, str], Any]

_OPTIONS = SerializationOptions(with_comments=False, preserve_heredocs=False)
_RUNTIME_ROOTS = (
    "attr.",
    "meta.",
    "node.",
    "device.",
    "env.",
    "NOMAD_",
    "unique.",
    "region",
    "var.",
)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class ParseError(Exception):
    """The HCL is not a job we accept; the message names the construct and its block."""


# ---------------------------------------------------------------- value converters


def _unquote(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise ParseError(f"{where}: Incorrect attribute value type; a string is required")
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        body = raw[1:-1]
        _check_interpolations(body, where)

        def unescape(m: re.Match[str]) -> str:
            code = m.group(1)
            if code[0] in "uU" and len(code) > 1:
                return chr(int(code[1:], 16))
            if code in _SIMPLE_ESCAPES:
                return _SIMPLE_ESCAPES[code]
            raise ParseError(f"{where}: Invalid escape sequence \\{code}")

        text = _ESCAPE.sub(unescape, body)
        return text.replace("$${", "${").replace("%%{", "%{")
    raise ParseError(
        f"{where}: Unsupported expression {raw!r}; the simulator accepts literal values only"
    )


def _check_interpolations(body: str, where: str) -> None:
    for match in re.finditer(r"(?<![$%])([$%])\{([^}]*)\}", body):
        expr = match.group(2).strip()
        if match.group(1) == "%":
            raise ParseError(f"{where}: template directives (%{{{expr}}}) are not supported")
        if expr.startswith("var."):
            raise ParseError(f'{where}: Unknown variable; There is no variable named "{expr}"')
        if not (expr.startswith(_RUNTIME_ROOTS) or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", expr)):
            raise ParseError(f"{where}: Unsupported expression ${{{expr}}}")


def string(raw: Any, where: str) -> str:
    return _unquote(raw, where)


def integer(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ParseError(f"{where}: Incorrect attribute value type; a number is required")
    return raw


def boolean(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ParseError(f"{where}: Incorrect attribute value type; a bool is required")
    return raw


def duration(raw: Any, where: str) -> int:
    text = string(raw, where)
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ParseError(f"{where}: {exc}") from None


def size_mb(raw: Any, where: str) -> int:
    return integer(raw, where)


def strings(raw: Any, where: str) -> list[str]:
    if not isinstance(raw, list):
        raise ParseError(f"{where}: Incorrect attribute value type; a list of strings is required")
    return [string(item, f"{where}[{i}]") for i, item in enumerate(raw)]


def string_map(raw: Any, where: str) -> dict[str, str]:
    """A map attribute (``meta = {...}``) or a block of string attributes (``meta {...}``)."""
    if isinstance(raw, list):
        merged: JSON = {}
        for block in raw:
            merged.update(block)
        raw = merged
    if not isinstance(raw, dict):
        raise ParseError(f"{where}: Incorrect attribute value type; a map is required")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if key.startswith("__"):
            continue
        name = _unquote(key, where) if key.startswith('"') else key
        out[name] = string(value, f"{where}.{name}")
    return out


def any_value(raw: Any, where: str) -> Any:
    """Driver config and other free-form maps: strings unquoted, structure kept."""
    if isinstance(raw, str):
        return _unquote(raw, where)
    if isinstance(raw, list):
        items = [any_value(item, where) for item in raw]
        if raw and all(isinstance(i, dict) and i.get("__is_block__") for i in raw):
            return items[0] if len(items) == 1 else items
        return items
    if isinstance(raw, dict):
        return {
            (_unquote(k, where) if k.startswith('"') else k): any_value(v, f"{where}.{k}")
            for k, v in raw.items()
            if not k.startswith("__")
        }
    return raw


def header_map(raw: Any, where: str) -> dict[str, list[str]]:
    merged: JSON = {}
    for block in raw if isinstance(raw, list) else [raw]:
        merged.update(block)
    return {k: strings(v, f"{where}.{k}") for k, v in merged.items() if not k.startswith("__")}


# ---------------------------------------------------------------- block tables


@dataclass
class Block:
    """How one HCL block maps to JSON: its arguments, nested blocks and label key."""

    attrs: dict[str, tuple[str, Conv]] = field(default_factory=dict)
    blocks: dict[str, tuple[str, Block, str]] = field(default_factory=dict)
    label: str | None = None
    post: Callable[[JSON, JSON], JSON] | None = None  # (json, raw attrs) -> json


ONE, MANY = "one", "many"

CONSTRAINT_SHORTHANDS = (
    "distinct_hosts",
    "distinct_property",
    "regexp",
    "version",
    "semver",
    "set_contains",
    "set_contains_any",
    "set_contains_all",
)


def _constraint_post(out: JSON, raw: JSON) -> JSON:
    for name in CONSTRAINT_SHORTHANDS:
        if name not in raw:
            continue
        value = raw[name]
        if name == "distinct_hosts":
            out["Operand"] = "distinct_hosts"
            out["RTarget"] = "true" if boolean(value, "constraint.distinct_hosts") else "false"
        elif name == "distinct_property":
            out["Operand"] = "distinct_property"
            out["LTarget"] = string(value, "constraint.distinct_property")
        else:
            out["Operand"] = name
            out["RTarget"] = string(value, f"constraint.{name}")
    return out


def _shorthand_conv(raw: Any, where: str) -> Any:
    return raw  # consumed by _constraint_post


CONSTRAINT = Block(
    attrs={
        "attribute": ("LTarget", string),
        "value": ("RTarget", string),
        "operator": ("Operand", string),
        **{n: ("__" + n, _shorthand_conv) for n in CONSTRAINT_SHORTHANDS},
    },
    post=_constraint_post,
)
AFFINITY = Block(
    attrs={
        "attribute": ("LTarget", string),
        "value": ("RTarget", string),
        "operator": ("Operand", string),
        "weight": ("Weight", integer),
    }
)


def _spread_post(out: JSON, raw: JSON) -> JSON:
    return out


SPREAD = Block(
    attrs={"attribute": ("Attribute", string), "weight": ("Weight", integer)},
    blocks={
        "target": (
            "SpreadTarget",
            Block(attrs={"percent": ("Percent", integer)}, label="Value"),
            MANY,
        )
    },
)


def _port_list(out: JSON, raw: JSON) -> JSON:
    reserved: list[JSON] = []
    dynamic: list[JSON] = []
    for port in out.pop("__ports", None) or []:
        entry = {
            "Label": port["Label"],
            "Value": port.get("Value", 0),
            "To": port.get("To", 0),
            "HostNetwork": port.get("HostNetwork", "default"),
        }
        (reserved if port.get("Value") else dynamic).append(entry)
    out["ReservedPorts"] = reserved or None
    out["DynamicPorts"] = dynamic or None
    return out


PORT = Block(
    attrs={
        "static": ("Value", integer),
        "to": ("To", integer),
        "host_network": ("HostNetwork", string),
    },
    label="Label",
)
NETWORK = Block(
    attrs={"mode": ("Mode", string), "hostname": ("Hostname", string), "mbits": ("MBits", integer)},
    blocks={
        "port": ("__ports", PORT, MANY),
        "dns": (
            "DNS",
            Block(
                attrs={
                    "servers": ("Servers", strings),
                    "searches": ("Searches", strings),
                    "options": ("Options", strings),
                }
            ),
            ONE,
        ),
    },
    post=_port_list,
)
DEVICE = Block(
    attrs={"count": ("Count", integer)},
    blocks={
        "constraint": ("Constraints", CONSTRAINT, MANY),
        "affinity": ("Affinities", AFFINITY, MANY),
    },
    label="Name",
)
RESOURCES = Block(
    attrs={
        "cpu": ("CPU", integer),
        "cores": ("Cores", integer),
        "memory": ("MemoryMB", integer),
        "memory_max": ("MemoryMaxMB", integer),
        "secrets": ("SecretsMB", integer),
    },
    blocks={
        "device": ("Devices", DEVICE, MANY),
        "numa": ("NUMA", Block(attrs={"affinity": ("Affinity", string)}), ONE),
    },
)
CHECK_RESTART = Block(
    attrs={
        "limit": ("Limit", integer),
        "grace": ("Grace", duration),
        "ignore_warnings": ("IgnoreWarnings", boolean),
    }
)
CHECK = Block(
    attrs={
        "name": ("Name", string),
        "type": ("Type", string),
        "path": ("Path", string),
        "port": ("PortLabel", string),
        "interval": ("Interval", duration),
        "timeout": ("Timeout", duration),
        "method": ("Method", string),
        "protocol": ("Protocol", string),
        "command": ("Command", string),
        "args": ("Args", strings),
        "initial_status": ("InitialStatus", string),
        "address_mode": ("AddressMode", string),
        "tls_skip_verify": ("TLSSkipVerify", boolean),
        "tls_server_name": ("TLSServerName", string),
        "expose": ("Expose", boolean),
        "on_update": ("OnUpdate", string),
        "body": ("Body", string),
        "task": ("TaskName", string),
        "success_before_passing": ("SuccessBeforePassing", integer),
        "failures_before_critical": ("FailuresBeforeCritical", integer),
        "failures_before_warning": ("FailuresBeforeWarning", integer),
        "grpc_service": ("GRPCService", string),
        "grpc_use_tls": ("GRPCUseTLS", boolean),
        "notes": ("Notes", string),
    },
    blocks={"check_restart": ("CheckRestart", CHECK_RESTART, ONE)},
)
CHECK.attrs["header"] = ("Header", header_map)
CHECK.blocks["header"] = ("Header", Block(), "headers")
SERVICE = Block(
    attrs={
        "name": ("Name", string),
        "port": ("PortLabel", string),
        "tags": ("Tags", strings),
        "canary_tags": ("CanaryTags", strings),
        "provider": ("Provider", string),
        "address_mode": ("AddressMode", string),
        "address": ("Address", string),
        "meta": ("Meta", string_map),
        "canary_meta": ("CanaryMeta", string_map),
        "task": ("TaskName", string),
        "on_update": ("OnUpdate", string),
        "enable_tag_override": ("EnableTagOverride", boolean),
        "tagged_addresses": ("TaggedAddresses", string_map),
        "cluster": ("Cluster", string),
    },
    blocks={
        "check": ("Checks", CHECK, MANY),
        "check_restart": ("CheckRestart", CHECK_RESTART, ONE),
    },
)
SERVICE.blocks["meta"] = ("Meta", Block(), "map")
UPDATE = Block(
    attrs={
        "max_parallel": ("MaxParallel", integer),
        "health_check": ("HealthCheck", string),
        "min_healthy_time": ("MinHealthyTime", duration),
        "healthy_deadline": ("HealthyDeadline", duration),
        "progress_deadline": ("ProgressDeadline", duration),
        "auto_revert": ("AutoRevert", boolean),
        "auto_promote": ("AutoPromote", boolean),
        "canary": ("Canary", integer),
        "stagger": ("Stagger", duration),
    }
)
RESTART = Block(
    attrs={
        "attempts": ("Attempts", integer),
        "interval": ("Interval", duration),
        "delay": ("Delay", duration),
        "mode": ("Mode", string),
        "render_templates": ("RenderTemplates", boolean),
    }
)
RESCHEDULE = Block(
    attrs={
        "attempts": ("Attempts", integer),
        "interval": ("Interval", duration),
        "delay": ("Delay", duration),
        "delay_function": ("DelayFunction", string),
        "max_delay": ("MaxDelay", duration),
        "unlimited": ("Unlimited", boolean),
    }
)
MIGRATE = Block(
    attrs={
        "max_parallel": ("MaxParallel", integer),
        "health_check": ("HealthCheck", string),
        "min_healthy_time": ("MinHealthyTime", duration),
        "healthy_deadline": ("HealthyDeadline", duration),
    }
)
EPHEMERAL_DISK = Block(
    attrs={
        "sticky": ("Sticky", boolean),
        "migrate": ("Migrate", boolean),
        "size": ("SizeMB", size_mb),
    }
)
ARTIFACT = Block(
    attrs={
        "source": ("GetterSource", string),
        "destination": ("RelativeDest", string),
        "mode": ("GetterMode", string),
        "options": ("GetterOptions", string_map),
        "headers": ("GetterHeaders", string_map),
        "chown": ("Chown", boolean),
        "insecure": ("GetterInsecure", boolean),
    },
)
ARTIFACT.blocks["options"] = ("GetterOptions", Block(), "map")
ARTIFACT.blocks["headers"] = ("GetterHeaders", Block(), "map")
TEMPLATE = Block(
    attrs={
        "data": ("EmbeddedTmpl", string),
        "source": ("SourcePath", string),
        "destination": ("DestPath", string),
        "change_mode": ("ChangeMode", string),
        "change_signal": ("ChangeSignal", string),
        "env": ("Envvars", boolean),
        "perms": ("Perms", string),
        "splay": ("Splay", duration),
        "left_delimiter": ("LeftDelim", string),
        "right_delimiter": ("RightDelim", string),
        "error_on_missing_key": ("ErrMissingKey", boolean),
        "uid": ("Uid", integer),
        "gid": ("Gid", integer),
        "once": ("Once", boolean),
    }
)
LOGS = Block(
    attrs={
        "max_files": ("MaxFiles", integer),
        "max_file_size": ("MaxFileSizeMB", integer),
        "disabled": ("Disabled", boolean),
        "enabled": ("Enabled", boolean),
    }
)
LIFECYCLE = Block(attrs={"hook": ("Hook", string), "sidecar": ("Sidecar", boolean)})
SCALING = Block(
    attrs={"min": ("Min", integer), "max": ("Max", integer), "enabled": ("Enabled", boolean)},
    blocks={"policy": ("Policy", Block(), "any")},
)
FREEFORM = Block()  # vault, identity, consul: kept as a map
VOLUME = Block(
    attrs={
        "type": ("Type", string),
        "source": ("Source", string),
        "read_only": ("ReadOnly", boolean),
        "access_mode": ("AccessMode", string),
        "attachment_mode": ("AttachmentMode", string),
        "per_alloc": ("PerAlloc", boolean),
        "sticky": ("Sticky", boolean),
    },
    blocks={
        "mount_options": (
            "MountOptions",
            Block(attrs={"fs_type": ("FSType", string), "mount_flags": ("MountFlags", strings)}),
            ONE,
        )
    },
    label="Name",
)
VOLUME_MOUNT = Block(
    attrs={
        "volume": ("Volume", string),
        "destination": ("Destination", string),
        "read_only": ("ReadOnly", boolean),
        "propagation_mode": ("PropagationMode", string),
        "selinux_label": ("SELinuxLabel", string),
    }
)

TASK = Block(
    attrs={
        "driver": ("Driver", string),
        "user": ("User", string),
        "env": ("Env", string_map),
        "meta": ("Meta", string_map),
        "kill_timeout": ("KillTimeout", duration),
        "kill_signal": ("KillSignal", string),
        "leader": ("Leader", boolean),
        "shutdown_delay": ("ShutdownDelay", duration),
        "kind": ("Kind", string),
        "config": ("Config", any_value),
    },
    blocks={
        "config": ("Config", Block(), "any"),
        "env": ("Env", Block(), "map"),
        "meta": ("Meta", Block(), "map"),
        "resources": ("Resources", RESOURCES, ONE),
        "artifact": ("Artifacts", ARTIFACT, MANY),
        "template": ("Templates", TEMPLATE, MANY),
        "service": ("Services", SERVICE, MANY),
        "constraint": ("Constraints", CONSTRAINT, MANY),
        "affinity": ("Affinities", AFFINITY, MANY),
        "logs": ("LogConfig", LOGS, ONE),
        "lifecycle": ("Lifecycle", LIFECYCLE, ONE),
        "restart": ("RestartPolicy", RESTART, ONE),
        "vault": ("Vault", FREEFORM, "any"),
        "identity": ("Identities", FREEFORM, "anylist"),
        "consul": ("Consul", FREEFORM, "any"),
        "volume_mount": ("VolumeMounts", VOLUME_MOUNT, MANY),
        "dispatch_payload": ("DispatchPayload", Block(attrs={"file": ("File", string)}), ONE),
    },
    label="Name",
)
GROUP = Block(
    attrs={
        "count": ("Count", integer),
        "meta": ("Meta", string_map),
        "shutdown_delay": ("ShutdownDelay", duration),
        "stop_after_client_disconnect": ("StopAfterClientDisconnect", duration),
        "max_client_disconnect": ("MaxClientDisconnect", duration),
        "prevent_reschedule_on_lost": ("PreventRescheduleOnLost", boolean),
    },
    blocks={
        "task": ("Tasks", TASK, MANY),
        "network": ("Networks", NETWORK, MANY),
        "service": ("Services", SERVICE, MANY),
        "update": ("Update", UPDATE, ONE),
        "restart": ("RestartPolicy", RESTART, ONE),
        "reschedule": ("ReschedulePolicy", RESCHEDULE, ONE),
        "migrate": ("Migrate", MIGRATE, ONE),
        "ephemeral_disk": ("EphemeralDisk", EPHEMERAL_DISK, ONE),
        "constraint": ("Constraints", CONSTRAINT, MANY),
        "affinity": ("Affinities", AFFINITY, MANY),
        "spread": ("Spreads", SPREAD, MANY),
        "meta": ("Meta", Block(), "map"),
        "scaling": ("Scaling", SCALING, ONE),
        "volume": ("Volumes", VOLUME, "named"),
        "consul": ("Consul", FREEFORM, "any"),
        "disconnect": ("Disconnect", FREEFORM, "any"),
    },
    label="Name",
)
PERIODIC = Block(
    attrs={
        "cron": ("Spec", string),
        "crons": ("Specs", strings),
        "prohibit_overlap": ("ProhibitOverlap", boolean),
        "time_zone": ("TimeZone", string),
        "enabled": ("Enabled", boolean),
    }
)
PARAMETERIZED = Block(
    attrs={
        "payload": ("Payload", string),
        "meta_required": ("MetaRequired", strings),
        "meta_optional": ("MetaOptional", strings),
    }
)
JOB = Block(
    attrs={
        "name": ("Name", string),
        "datacenters": ("Datacenters", strings),
        "type": ("Type", string),
        "priority": ("Priority", integer),
        "namespace": ("Namespace", string),
        "region": ("Region", string),
        "node_pool": ("NodePool", string),
        "all_at_once": ("AllAtOnce", boolean),
        "meta": ("Meta", string_map),
        "vault_token": ("VaultToken", string),
        "consul_token": ("ConsulToken", string),
    },
    blocks={
        "group": ("TaskGroups", GROUP, MANY),
        "constraint": ("Constraints", CONSTRAINT, MANY),
        "affinity": ("Affinities", AFFINITY, MANY),
        "spread": ("Spreads", SPREAD, MANY),
        "update": ("Update", UPDATE, ONE),
        "periodic": ("Periodic", PERIODIC, ONE),
        "parameterized": ("ParameterizedJob", PARAMETERIZED, ONE),
        "reschedule": ("Reschedule", RESCHEDULE, ONE),
        "migrate": ("Migrate", MIGRATE, ONE),
        "meta": ("Meta", Block(), "map"),
        "ui": ("UI", FREEFORM, "any"),
    },
    label="ID",
)


# ---------------------------------------------------------------- the walker


def _is_block_item(value: Any) -> bool:
    """python-hcl2 marks blocks; a labelled block is ``{label: {..., __is_block__}}``."""
    if not isinstance(value, dict):
        return False
    if value.get("__is_block__"):
        return True
    keys = [k for k in value if not k.startswith("__")]
    return len(keys) == 1 and isinstance(value[keys[0]], dict) and _is_block_item(value[keys[0]])


def _convert(body: JSON, spec: Block, where: str) -> JSON:
    out: JSON = {}
    raw_attrs: JSON = {}
    for key, value in body.items():
        if key.startswith("__"):
            continue
        is_block = isinstance(value, list) and bool(value) and all(map(_is_block_item, value))
        if is_block:
            if key not in spec.blocks:
                raise ParseError(
                    f"{where}: Unsupported block type; "
                    f'Blocks of type "{key}" are not expected here.'
                )
            json_key, sub, mode = spec.blocks[key]
            _convert_blocks(out, json_key, sub, mode, value, f"{where} -> {key}")
            continue
        if key not in spec.attrs:
            raise ParseError(
                f'{where}: Unsupported argument; An argument named "{key}" is not expected here.'
            )
        json_key, conv = spec.attrs[key]
        raw_attrs[key] = value
        if not json_key.startswith("__"):
            out[json_key] = conv(value, f"{where}.{key}")
    if spec.post is not None:
        out = spec.post(out, raw_attrs)
    return out


def _convert_blocks(
    out: JSON, key: str, sub: Block, mode: str, blocks: list[JSON], where: str
) -> None:
    if mode in ("any", "anylist", "anymap"):
        values = [any_value(b, where) for b in blocks]
        out[key] = values if mode == "anylist" else values[0] if mode == "any" else values
        return
    if mode in ("map", "headers"):
        conv = header_map if mode == "headers" else string_map
        out[key] = conv(blocks, where)
        return
    items = []
    for block in blocks:
        if sub.label is not None:
            labels = [k for k in block if not k.startswith("__")]
            if len(labels) != 1 or not isinstance(block[labels[0]], dict):
                raise ParseError(f"{where}: Missing name for block; this block requires one label")
            label = _unquote(labels[0], where) if labels[0].startswith('"') else labels[0]
            item = _convert(block[labels[0]], sub, f'{where} "{label}"')
            item[sub.label] = label
        else:
            if not block.get("__is_block__"):
                raise ParseError(f"{where}: Extraneous label for block; no labels are expected")
            item = _convert(block, sub, where)
        items.append(item)
    if mode == "named":  # group volumes: a map keyed by the block's label
        out.setdefault(key, {})
        out[key].update({item[sub.label or "Name"]: item for item in items})
        return
    if mode == ONE:
        if len(items) > 1:
            raise ParseError(
                f'{where}: Duplicate block; only one "{where.split()[-1]}" block is allowed'
            )
        out[key] = items[0]
    else:
        out.setdefault(key, [])
        out[key].extend(items)


def parse_job(text: str) -> JSON:
    """Parse a jobspec; raises ParseError with Nomad-like wording for anything unsupported."""
    try:
        tree = hcl2.loads(text, serialization_options=_OPTIONS)
    except Exception as exc:  # lark raises several unrelated types for syntax errors
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParseError(f"input.hcl: Invalid HCL syntax: {first}") from None
    extra = [k for k in tree if k not in ("job",) and not k.startswith("__")]
    if extra:
        raise ParseError(
            f'input.hcl: Unsupported block type; Blocks of type "{extra[0]}" are not expected here.'
        )
    jobs = tree.get("job") or []
    if len(jobs) != 1:
        raise ParseError(
            "input.hcl: expected exactly one job block" if jobs else "input.hcl: Missing job block"
        )
    holder: JSON = {}
    _convert_blocks(holder, "Job", JOB, ONE, jobs, "job")
    job: JSON = holder["Job"]
    job.setdefault("Name", job.get("ID"))
    return job
