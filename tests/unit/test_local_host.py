"""The host as a Nomad node: psutil resources, drivers, and GPUs through (a fake) NVML."""

from __future__ import annotations

from types import SimpleNamespace

import psutil

from mlctl.local.engine.drivers import DriverInfo, Drivers
from mlctl.local.engine.host import host_node, nvml_gpus
from mlctl.local.engine.topology import node_json

MIB = 1024 * 1024


class FakeNvml:
    """The part of pynvml's API the fingerprint uses, with two cards."""

    cards = (
        ("Tesla T4", "GPU-1a2b", 15360, "00000000:3B:00.0"),
        ("NVIDIA A100-SXM4-40GB", "GPU-3c4d", 40960, "00000000:5E:00.0"),
    )

    def __init__(self, fail_init: bool = False) -> None:
        self.fail_init = fail_init
        self.shut_down = False

    def nvmlInit(self):
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlShutdown(self):
        self.shut_down = True

    def nvmlSystemGetDriverVersion(self):
        return b"550.54.15"

    def nvmlDeviceGetCount(self):
        return len(self.cards)

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetName(self, handle):
        return self.cards[handle][0]

    def nvmlDeviceGetUUID(self, handle):
        return self.cards[handle][1]

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(total=self.cards[handle][2] * MIB)

    def nvmlDeviceGetPciInfo(self, handle):
        return SimpleNamespace(busId=self.cards[handle][3].encode())


def test_gpus_come_from_nvml_with_model_memory_and_ids():
    nvml = FakeNvml()
    gpus, note = nvml_gpus(nvml)
    assert [(g.model, g.memory_mib, g.uuid) for g in gpus] == [
        ("Tesla T4", 15360, "GPU-1a2b"),
        ("NVIDIA A100-SXM4-40GB", 40960, "GPU-3c4d"),
    ]
    assert note == "2 NVIDIA GPU(s), driver 550.54.15"
    assert nvml.shut_down


def test_no_driver_means_no_gpus():
    gpus, note = nvml_gpus(FakeNvml(fail_init=True))
    assert gpus == [] and note.startswith("no NVIDIA GPU")


def test_the_host_node_reports_its_cpu_memory_drivers_and_devices(tmp_path):
    drivers = Drivers(
        runners={},
        info={
            "raw_exec": DriverInfo(True, True, "Healthy", {"driver.raw_exec": "1"}),
            "docker": DriverInfo(False, False, "Failed to connect to docker daemon"),
        },
    )
    gpus, _ = nvml_gpus(FakeNvml())
    node = node_json(host_node(drivers, tmp_path, gpus, name="laptop"), "n-1", 5, 0)
    cores = psutil.cpu_count(logical=True)
    assert node["Name"] == "laptop"
    assert node["NodeResources"]["Memory"]["MemoryMB"] == psutil.virtual_memory().total // MIB
    assert node["NodeResources"]["Cpu"]["TotalCpuCores"] == cores
    assert node["Attributes"]["driver.raw_exec"] == "1"
    assert "driver.docker" not in node["Attributes"]
    assert node["Drivers"]["docker"]["Detected"] is False
    assert node["Drivers"]["raw_exec"]["Healthy"] is True
    devices = {d["Name"]: d for d in node["NodeResources"]["Devices"]}
    assert devices["Tesla T4"]["Instances"][0]["ID"] == "GPU-1a2b"
    assert devices["Tesla T4"]["Attributes"]["memory"] == {"Int": 15360, "Unit": "MiB"}
    assert devices["Tesla T4"]["Instances"][0]["Locality"]["PciBusID"] == "00000000:3B:00.0"
