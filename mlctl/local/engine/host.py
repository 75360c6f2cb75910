"""The local runtime's one client node, fingerprinted from the host it runs on.

CPU (cores x MHz, as Nomad's ``cpu.totalcompute``), memory and disk come from psutil,
so placement refuses what the machine cannot hold ("not enough memory" for real).
NVIDIA GPUs come from NVML (``nvidia-ml-py``) when a driver is present and appear as
``nvidia/gpu`` device instances with their model, memory and health, the way Nomad's
NVIDIA device plugin reports them.  :func:`nvml_gpus` takes the NVML module as an
argument so tests pass a fake one (no GPU is needed to test the path).
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from pathlib import Path
from typing import Any

import psutil

from .drivers import Drivers
from .topology import GpuSpec, NodeSpec

MIB = 1024 * 1024
DEFAULT_MHZ = 1000


def _cpu_mhz() -> int:
    freq = psutil.cpu_freq()
    if freq is not None and (freq.max or freq.current):
        return int(freq.max or freq.current)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("cpu mhz"):
                return int(float(line.split(":", 1)[1]))
    except (OSError, ValueError):
        pass
    return DEFAULT_MHZ


def _os_release() -> tuple[str, str]:
    try:
        fields = dict(
            line.split("=", 1)
            for line in Path("/etc/os-release").read_text().splitlines()
            if "=" in line
        )
    except OSError:
        return platform.system().lower(), ""
    return fields.get("ID", "linux").strip('"'), fields.get("VERSION_ID", "").strip('"')


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def nvml_gpus(nvml: Any) -> tuple[list[GpuSpec], str]:
    """The GPUs NVML sees, and a note for the status ("2 NVIDIA GPUs", "no NVIDIA driver")."""
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound and friends: no driver here
        return [], f"no NVIDIA GPU ({type(exc).__name__})"
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            pci = nvml.nvmlDeviceGetPciInfo(handle)
            gpus.append(
                GpuSpec(
                    model=_text(nvml.nvmlDeviceGetName(handle)),
                    memory_mib=int(memory.total) // MIB,
                    uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                    pci_bus_id=_text(pci.busId),
                    driver_version=driver,
                )
            )
        return gpus, f"{len(gpus)} NVIDIA GPU(s), driver {driver}"
    except Exception as exc:
        return [], f"NVML failed: {type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):  # shutting down a library that half-failed
            nvml.nvmlShutdown()


def host_gpus() -> tuple[list[GpuSpec], str]:
    try:
        import pynvml
    except ImportError:
        return [], "no NVIDIA GPU support (nvidia-ml-py is not installed)"
    return nvml_gpus(pynvml)


def host_node(
    drivers: Drivers, data_dir: Path, gpus: list[GpuSpec], name: str | None = None
) -> NodeSpec:
    """This machine as a Nomad client node."""
    cores = psutil.cpu_count(logical=True) or 1
    mhz = _cpu_mhz()
    os_name, os_version = _os_release()
    disk = psutil.disk_usage(str(data_dir)).free // MIB if data_dir.exists() else 0
    attributes = {
        "cpu.numcores": str(cores),
        "cpu.reservablecores": str(cores),
        "cpu.frequency": str(mhz),
        "cpu.totalcompute": str(cores * mhz),
        "cpu.arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(
            platform.machine(), platform.machine()
        ),
        "cpu.modelname": platform.processor() or "unknown",
        "kernel.name": platform.system().lower(),
        "kernel.version": platform.release(),
        "kernel.arch": platform.machine(),
        "os.name": os_name,
        "os.version": os_version,
        "unique.hostname": socket.gethostname(),
        "unique.storage.volume": str(data_dir),
        "unique.storage.bytesfree": str(disk * MIB),
        "unique.mlctl.user": str(os.getuid()),
        **drivers.node_attributes(),
    }
    return NodeSpec(
        name=name or socket.gethostname(),
        cpu=cores * mhz,
        memory=psutil.virtual_memory().total // MIB,
        disk=disk,
        gpus=gpus,
        attributes=attributes,
        drivers=dict(drivers.info),
    )
