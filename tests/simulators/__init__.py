"""HTTP simulators of the HashiCorp services mlctl talks to (see tests/README.md)."""
