"""Size limits shared by packaging and unpacking.

Packaging refuses a bundle that unpacking would refuse, so every archive
``mlctl model package`` writes can be unpacked again by ``safe_unpack``.
"""

from __future__ import annotations

#: Total bytes of all files in a bundle (the uncompressed size). Large enough for
#: multi-gigabyte ONNX models, small enough that a gzip bomb cannot fill a node's disk.
MAX_TOTAL_BYTES = 8 * 1024**3

#: Files and directories in a bundle. Real bundles hold a handful; thousands of
#: tiny members are a cheap way to exhaust inodes or CPU.
MAX_MEMBERS = 10_000

#: Longest path inside a bundle, in bytes (PATH_MAX-safe on every node we target).
MAX_PATH_BYTES = 1024
