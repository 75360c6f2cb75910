"""Seed 001's environment contract (DCloud's JSON) → an environment spec.

The seed's document looks like::

    {"env-name": "fjasldf", "os": "ubuntu",
     "languages": [{"language-name": "python", "libraries": ["numpy"]}],
     "resources": {"ram": "1G", "cpu": "1.0", "gpu": "1", "storage": 54},
     "dataset": [{"category-name": "ffs", "db": [{"db-name": "fsgr",
                  "dataset": [{"dataset-name": "effr", "version": "34"}]}]}],
     "port-publish": [{"external": {"ports": "9000"},
                       "internal": {"ports": "9000", "protocol": "tcp"}}],
     "storage": [{"target": "/target", "size": "1G", "lifecycle": "temporary"}],
     "is active": 1, "creation_time": {...}, "config_id": 0}

Mapping (documented in the README): a GPU count picks ``jupyter-gpu``, else
``jupyter-cpu``; python libraries become ``packages``; ``ram`` and storage sizes take
K/M/G/T suffixes (binary units, MiB out); ``cpu`` is cores at 1000 MHz each;
``resources.storage`` is GiB of scratch disk; each dataset version becomes a read-only
host volume named ``<dataset-name>-v<version>`` mounted at
``/data/<category>/<db>/<dataset-name>``; ``port-publish`` maps internal to ``to`` and
external to a static host port. Bookkeeping fields (ids, times, flags) are ignored.
Anything that cannot be mapped is a problem, reported with the others.
"""

from __future__ import annotations

import re
from typing import Any

IGNORED = {
    "_id",
    "id",
    "version",
    "is active",
    "is_active",
    "creation_time",
    "last updation time",
    "last_updation_time",
    "config_id",
    "os",
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.I)
_FACTOR = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def is_seed_contract(raw: Any) -> bool:
    return isinstance(raw, dict) and "env-name" in raw


def mebibytes(value: Any, default_unit: str = "M") -> int:
    """``"1G"`` → 1024; a bare number is in ``default_unit``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(value * _FACTOR[default_unit])
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size like 512M or 1G")
    number, unit = float(match.group(1)), (match.group(2) or default_unit).upper()
    return max(1, round(number * _FACTOR[unit]))


def convert(raw: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The spec dict for the seed document, and ``(field, problem)`` pairs."""
    problems: list[tuple[str, str]] = []
    resources, gpus = _resources(raw.get("resources") or {}, problems)
    spec: dict[str, Any] = {
        "name": raw.get("env-name"),
        "template": "jupyter-gpu" if gpus else "jupyter-cpu",
        "packages": _packages(raw.get("languages") or [], problems),
        "resources": resources,
        "datasets": _datasets(raw.get("dataset") or [], problems),
        "ports": _ports(raw.get("port-publish") or [], problems),
        "storage": _storage(raw.get("storage") or [], problems),
    }
    known = IGNORED | {"env-name", "languages", "resources", "dataset", "port-publish", "storage"}
    for key in raw:
        if key not in known:
            problems.append((key, "unknown field of the seed 001 contract"))
    return spec, problems


def _resources(raw: dict[str, Any], problems: list[tuple[str, str]]) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    gpus = 0
    for key, value in raw.items():
        try:
            if key == "ram":
                out["memory"] = mebibytes(value)
            elif key == "cpu":
                out["cpu"] = max(10, round(float(value) * 1000))
            elif key == "storage":
                out["disk"] = mebibytes(value, default_unit="G")
            elif key == "gpu":
                gpus = int(float(value))
                if gpus:
                    out["gpu"] = {"count": gpus}
            else:
                problems.append((f"resources.{key}", "unknown resource (ram, cpu, gpu, storage)"))
        except ValueError as exc:
            problems.append((f"resources.{key}", str(exc)))
    return out, gpus


def _packages(languages: list[Any], problems: list[tuple[str, str]]) -> list[str]:
    packages: list[str] = []
    for index, language in enumerate(languages):
        name = str((language or {}).get("language-name", "")).lower()
        if name != "python":
            problems.append(
                (f"languages[{index}]", f"{name or '?'}: only python environments are supported")
            )
            continue
        packages.extend(str(lib) for lib in language.get("libraries") or [])
    return packages


def _label(text: str) -> str:
    return _LABEL_CHARS.sub("_", text)[:63] or "data"


def _datasets(categories: list[Any], problems: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for c_index, category in enumerate(categories):
        cat = str(category.get("category-name", "data"))
        for d_index, db in enumerate(category.get("db") or []):
            db_name = str(db.get("db-name", "db"))
            for s_index, dataset in enumerate(db.get("dataset") or []):
                name = dataset.get("dataset-name")
                where = f"dataset[{c_index}].db[{d_index}].dataset[{s_index}]"
                if not name:
                    problems.append((where, "dataset-name is missing"))
                    continue
                version = str(dataset.get("version", "")).strip()
                volume = f"{name}-v{version}" if version else str(name)
                out.append(
                    {
                        "name": _label(f"{name}_v{version}" if version else str(name)),
                        "volume": volume,
                        "target": f"/data/{cat}/{db_name}/{name}",
                    }
                )
    return out


def _ports(entries: list[Any], problems: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for index, entry in enumerate(entries):
        internal = (entry or {}).get("internal") or {}
        external = (entry or {}).get("external") or {}
        try:
            to = int(str(internal.get("ports")))
            static = int(external["ports"]) if external.get("ports") else None
        except (TypeError, ValueError):
            problems.append((f"port-publish[{index}]", "ports must be numbers"))
            continue
        protocol = str(internal.get("protocol", "tcp")).lower()
        label = f"{protocol}_{to}"
        out.append({"label": label, "to": to, "static": static})
    return out


def _storage(entries: list[Any], problems: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for index, entry in enumerate(entries):
        item: dict[str, Any] = {
            "target": entry.get("target"),
            "lifecycle": entry.get("lifecycle", "temporary"),
        }
        if "size" in entry:
            try:
                item["size"] = mebibytes(entry["size"])
            except ValueError as exc:
                problems.append((f"storage[{index}].size", str(exc)))
        if "volume" in entry:
            item["volume"] = entry["volume"]
        out.append(item)
    return out
