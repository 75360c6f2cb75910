"""The artifact store: where ``mlctl deploy`` puts bundles for Nomad to download.

Objects are content-addressed, ``<model name>/<sha256>.tar.gz``: the same bundle is
uploaded once, an object never changes once written, and the ``.tar.gz`` suffix makes
Nomad's artifact fetcher (go-getter) unpack it. Two kinds of store:

- ``https://host/models`` (or ``http://``): WebDAV ``PUT`` with basic auth, as nginx's
  dav module serves it; see :mod:`mlctl.artifacts.http_store`.
- ``file:///shared/models``: a directory every Nomad client also sees (NFS and the like);
  see :mod:`mlctl.artifacts.file_store`.

Nomad downloads from ``artifact_read_url`` (default: the store URL), which must allow
anonymous ``GET``: mlctl never writes credentials into a job, where every reader of the
job could see them.
"""

from __future__ import annotations

from mlctl.artifacts.base import ArtifactRef, ArtifactStore, Progress, object_key
from mlctl.artifacts.factory import store_from_settings
from mlctl.digest import sha256_file

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "Progress",
    "object_key",
    "sha256_file",
    "store_from_settings",
]
