"""The one engine behind `mlctl local` and the test suite: a strict single-node
implementation of the Nomad HTTP API (see tests/README.md)."""

from .sim import NomadSim
from .topology import GpuSpec, NodeSpec, default_cluster, parse_nodes

__all__ = ["GpuSpec", "NodeSpec", "NomadSim", "default_cluster", "parse_nodes"]
