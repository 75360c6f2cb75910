"""Client nodes: the steerable spec of a node and the JSON Nomad reports for it.

GPUs are reported the way the NVIDIA device plugin fingerprints them: one device
group per model (Vendor "nvidia", Type "gpu", Name "Tesla T4") with one instance
per card and typed attributes (``{"Int": 15360, "Unit": "MiB"}``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
NOMAD_VERSION = "1.8.4"


@dataclass
class GpuSpec:
    """One GPU card."""

    model: str = "Tesla T4"
    memory_mib: int = 15360
    uuid: str | None = None
    """The card's ID (NVML's ``GPU-<uuid>``); a random one when simulated."""
    pci_bus_id: str | None = None
    driver_version: str = "550.54.15"
    healthy: bool = True


@dataclass
class NodeSpec:
    """What a simulated client offers; parse_nodes() builds these from a command line."""

    name: str
    cpu: int = 4000
    memory: int = 16384
    disk: int = 100_000
    gpus: list[GpuSpec] = field(default_factory=list)
    datacenter: str = "dc1"
    node_pool: str = "default"
    node_class: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    host_volumes: dict[str, str] = field(default_factory=dict)
    """Host volume name -> path on the node (read-write), as a client's host_volume block."""
    drivers: dict[str, Any] | None = None
    """Task drivers the node reports (name -> drivers.DriverInfo); None: the simulated
    cluster's docker (and nvidia runtime on GPU nodes)."""


def default_cluster() -> list[NodeSpec]:
    """The standard test cluster: two T4 clients and one CPU-only client (tests/README.md)."""
    return [
        NodeSpec("gpu-1", cpu=4000, memory=16384, gpus=[GpuSpec()]),
        NodeSpec("gpu-2", cpu=4000, memory=16384, gpus=[GpuSpec()]),
        NodeSpec("cpu-1", cpu=4000, memory=8192),
    ]


def parse_nodes(text: str) -> list[NodeSpec]:
    """Parse ``name:key=value,...;name2:...`` (keys: cpu, memory, disk, dc, pool, class,
    gpu=<count>x<model>@<MiB>, meta.<k>); raises ValueError naming the bad part."""
    specs = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, opts = part.partition(":")
        spec = NodeSpec(name.strip())
        for opt in filter(None, (o.strip() for o in opts.split(","))):
            key, sep, value = opt.partition("=")
            if not sep:
                raise ValueError(f"node {name!r}: {opt!r} is not key=value")
            spec = _apply(spec, key.strip(), value.strip())
        specs.append(spec)
    if not specs:
        raise ValueError("no nodes given")
    return specs


def _apply(spec: NodeSpec, key: str, value: str) -> NodeSpec:
    if key in ("cpu", "memory", "disk"):
        setattr(spec, key, int(value))
    elif key == "dc":
        spec.datacenter = value
    elif key == "pool":
        spec.node_pool = value
    elif key == "class":
        spec.node_class = value
    elif key == "gpu":
        count, _, rest = value.partition("x")
        model, _, mem = rest.partition("@")
        spec.gpus.extend(GpuSpec(model or "Tesla T4", int(mem or 15360)) for _ in range(int(count)))
    elif key.startswith("meta."):
        spec.meta[key[5:]] = value
    elif key.startswith("attr."):
        spec.attributes[key[5:]] = value
    elif key.startswith("volume."):
        spec.host_volumes[key[7:]] = value
    else:
        raise ValueError(f"node {spec.name!r}: unknown key {key!r}")
    return spec


def node_json(spec: NodeSpec, node_id: str, index: int, now_ns: int) -> JSON:
    """The full ``GET /v1/node/:id`` object for a spec."""
    if spec.drivers is not None:
        return _node_with_drivers(spec, node_id, index, now_ns)
    attributes = {
        "cpu.arch": "amd64",
        "cpu.numcores": str(max(1, spec.cpu // 1000)),
        "cpu.frequency": "1000",
        "cpu.totalcompute": str(spec.cpu),
        "cpu.modelname": "Simulated CPU",
        "kernel.name": "linux",
        "kernel.version": "6.1.0-sim",
        "os.name": "debian",
        "os.version": "12",
        "driver.docker": "1",
        "driver.docker.version": "24.0.7",
        "driver.docker.runtimes": "io.containerd.runc.v2,runc" + (",nvidia" if spec.gpus else ""),
        "memory.totalbytes": str(spec.memory * 1024 * 1024),
        "nomad.version": NOMAD_VERSION,
        "nomad.advertise.address": "127.0.0.1:4646",
        "unique.hostname": spec.name,
        "unique.network.ip-address": "127.0.0.1",
        "unique.storage.volume": "/dev/sim",
    }
    if spec.gpus:
        attributes["driver.nvidia"] = "1"
    attributes.update(spec.attributes)
    return {
        "ID": node_id,
        "SecretID": "",
        "Datacenter": spec.datacenter,
        "Name": spec.name,
        "HTTPAddr": "127.0.0.1:4646",
        "TLSEnabled": False,
        "Attributes": attributes,
        "NodeResources": {
            "Cpu": {
                "CpuShares": spec.cpu,
                "TotalCpuCores": max(1, spec.cpu // 1000),
                "ReservableCpuCores": list(range(max(1, spec.cpu // 1000))),
            },
            "Memory": {"MemoryMB": spec.memory},
            "Disk": {"DiskMB": spec.disk},
            "Networks": [
                {
                    "Mode": "host",
                    "Device": "lo",
                    "CIDR": "127.0.0.1/32",
                    "IP": "127.0.0.1",
                    "MBits": 1000,
                    "DNS": None,
                    "ReservedPorts": None,
                    "DynamicPorts": None,
                }
            ],
            "NodeNetworks": [
                {
                    "Mode": "host",
                    "Device": "lo",
                    "MacAddress": "",
                    "Speed": 1000,
                    "Addresses": [
                        {
                            "Family": "ipv4",
                            "Alias": "default",
                            "Address": "127.0.0.1",
                            "ReservedPorts": "",
                            "Gateway": "",
                        }
                    ],
                }
            ],
            "Devices": _devices(spec) or None,
            "MinDynamicPort": 20000,
            "MaxDynamicPort": 32000,
        },
        "ReservedResources": {
            "Cpu": {"CpuShares": 0},
            "Memory": {"MemoryMB": 0},
            "Disk": {"DiskMB": 0},
            "Networks": {"ReservedHostPorts": ""},
        },
        "Links": None,
        "Meta": dict(spec.meta),
        "NodeClass": spec.node_class,
        "NodePool": spec.node_pool,
        "ComputedClass": f"v1:{abs(hash((spec.node_class, spec.datacenter))) % 10**18}",
        "Drain": False,
        "DrainStrategy": None,
        "SchedulingEligibility": "eligible",
        "Status": "ready",
        "StatusDescription": "",
        "StatusUpdatedAt": now_ns // 1_000_000_000,
        "Events": [
            {
                "Message": "Node registered",
                "Subsystem": "Cluster",
                "Details": None,
                "Timestamp": now_ns,
                "CreateIndex": 0,
            }
        ],
        "Drivers": {
            "docker": {
                "Attributes": {"driver.docker": "true"},
                "Detected": True,
                "Healthy": True,
                "HealthDescription": "Healthy",
                "UpdateTime": now_ns,
            },
        },
        "HostVolumes": {
            name: {"Path": path, "ReadOnly": False} for name, path in spec.host_volumes.items()
        }
        or None,
        "CSIControllerPlugins": None,  # no CSI here (see tests/README.md)
        "CSINodePlugins": None,
        "HostNetworks": None,
        "LastDrain": None,
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def _node_with_drivers(spec: NodeSpec, node_id: str, index: int, now_ns: int) -> JSON:
    """A real host's node: its own attributes and the drivers it fingerprinted."""
    attributes = {
        "nomad.version": NOMAD_VERSION,
        "nomad.advertise.address": "127.0.0.1:4646",
        "unique.network.ip-address": "127.0.0.1",
        "memory.totalbytes": str(spec.memory * 1024 * 1024),
        **({"driver.nvidia": "1"} if spec.gpus else {}),
        **spec.attributes,
    }
    node = node_json(
        NodeSpec(spec.name, spec.cpu, spec.memory, spec.disk, spec.gpus, spec.datacenter,
                 spec.node_pool, spec.node_class, spec.meta),
        node_id,
        index,
        now_ns,
    )  # fmt: skip
    node["Attributes"] = attributes
    cores = int(attributes.get("cpu.numcores", "1"))
    node["NodeResources"]["Cpu"].update(
        {"TotalCpuCores": cores, "ReservableCpuCores": list(range(cores))}
    )
    node["Drivers"] = {
        name: {
            "Attributes": dict(info.attributes) or None,
            "Detected": info.detected,
            "Healthy": info.healthy,
            "HealthDescription": info.description,
            "UpdateTime": now_ns,
        }
        for name, info in (spec.drivers or {}).items()
    }
    return node


def _devices(spec: NodeSpec) -> list[JSON]:
    groups: dict[tuple[str, int], list[GpuSpec]] = {}
    for gpu in spec.gpus:
        groups.setdefault((gpu.model, gpu.memory_mib), []).append(gpu)
    out = []
    for bus, ((model, memory), cards) in enumerate(groups.items()):
        out.append(
            {
                "Vendor": "nvidia",
                "Type": "gpu",
                "Name": model,
                "Instances": [
                    {
                        "ID": card.uuid or f"GPU-{uuid.uuid4()}",
                        "Healthy": card.healthy,
                        "HealthDescription": "" if card.healthy else "unhealthy",
                        "Locality": {
                            "PciBusID": card.pci_bus_id or f"00000000:{bus:02X}:{i:02X}.0"
                        },
                    }
                    for i, card in enumerate(cards)
                ],
                "Attributes": {
                    "memory": {"Int": memory, "Unit": "MiB"},
                    "bar1": {"Int": 256, "Unit": "MiB"},
                    "driver_version": {"String": cards[0].driver_version},
                    "cores_clock": {"Int": 1590, "Unit": "MHz"},
                    "memory_clock": {"Int": 5001, "Unit": "MHz"},
                    "power": {"Int": 70, "Unit": "W"},
                    "pci_bandwidth": {"Int": 15760, "Unit": "MB/s"},
                    "display_state": {"String": "Disabled"},
                    "persistence_mode": {"String": "Enabled"},
                },
            }
        )
    return out


def node_stub(node: JSON, with_resources: bool) -> JSON:
    """The ``GET /v1/nodes`` list entry."""
    stub = {
        "Address": "127.0.0.1",
        "ID": node["ID"],
        "Attributes": {"os.name": node["Attributes"].get("os.name", "")},
        "Datacenter": node["Datacenter"],
        "Name": node["Name"],
        "NodeClass": node["NodeClass"],
        "NodePool": node["NodePool"],
        "Version": NOMAD_VERSION,
        "Drain": node["Drain"],
        "SchedulingEligibility": node["SchedulingEligibility"],
        "Status": node["Status"],
        "StatusDescription": node["StatusDescription"],
        "Drivers": node["Drivers"],
        "HostVolumes": None,
        "LastDrain": node["LastDrain"],
        "CreateIndex": node["CreateIndex"],
        "ModifyIndex": node["ModifyIndex"],
    }
    if with_resources:
        stub["NodeResources"] = node["NodeResources"]
        stub["ReservedResources"] = node["ReservedResources"]
    return stub
