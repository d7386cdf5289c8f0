"""Datasets by name, through the ``mias_bench.datasets`` entry-point group.

BMAD's three sets are registered in ``pyproject.toml`` exactly as an outside
package registers its own: an entry point naming a :class:`DatasetSpec`.
Each entry point loads inside its own guard; a broken one is listed with
its error by ``mias-bench data list`` and never stops the CLI.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

from bench.datasets.base import Dataset
from bench.datasets.spec import DatasetSpec
from bench.errors import DatasetError, PluginError, UnknownNameError
from bench.names import suggest
from bench.paths import data_root
from bench.plugins import PluginRecord, load_entry_points

DATASET_GROUP = "mias_bench.datasets"
_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9.]+)*$")


def check_dataset_spec(name: str, obj: Any) -> None:
    """Reject an entry point that is not a usable :class:`DatasetSpec` named like its entry point."""
    if not isinstance(obj, DatasetSpec):
        raise PluginError(f"dataset {name!r}: expected a bench.datasets.DatasetSpec instance, got {obj!r}")
    if obj.name != name:
        raise PluginError(f"dataset {name!r}: the spec declares name {obj.name!r}; it must match the entry point")
    if not _NAME_RE.match(name):
        raise PluginError(f"dataset {name!r}: names are lower-case and hyphenated (e.g. 'bmad-brain')")
    if not callable(obj.opener):
        raise PluginError(f"dataset {name!r}: `opener` must be callable as opener(root) -> Dataset")


def discover_datasets() -> list[PluginRecord]:
    """Every dataset entry point, loaded and checked (broken ones carry their error), sorted by name."""
    return load_entry_points(DATASET_GROUP, check_dataset_spec)


def list_datasets(pattern: str = "*") -> list[str]:
    """Names of datasets that loaded cleanly, filtered by a shell-style wildcard."""
    return [r.name for r in discover_datasets() if r.ok and fnmatch.fnmatch(r.name, pattern)]


def get_dataset_record(name: str) -> PluginRecord:
    """The record of one dataset; an unknown name suggests close matches."""
    records = {r.name: r for r in discover_datasets()}
    if name not in records:
        known = sorted(records)
        raise UnknownNameError(
            f"unknown dataset {name!r}{suggest(name, known)} (installed: {', '.join(known) or 'none'})"
        )
    record = records[name]
    if not record.ok:
        raise PluginError(f"dataset {name!r} is installed but broken: {record.error}")
    return record


def get_dataset_spec(name: str) -> DatasetSpec:
    return get_dataset_record(name).obj


def open_dataset(name: str, root: str | Path | None = None) -> Dataset:
    """Open dataset ``name`` at ``root`` (default: ``MIAS_BENCH_DATA``).

    Raises:
        UnknownNameError: no dataset of that name is installed.
        DatasetError: no root was given, or the tree is missing or malformed.
    """
    spec = get_dataset_spec(name)
    resolved = data_root(root)
    if resolved is None:
        raise DatasetError(
            f"no data root for dataset {name!r}: pass --data-root DIR or set MIAS_BENCH_DATA "
            f"(`mias-bench data synth --out DIR` writes a small synthetic tree)"
        )
    return spec.open(resolved)


def dataset_listing() -> list[dict[str, Any]]:
    """Every dataset entry point with its status, modality and published counts (for ``data list``)."""
    rows = []
    for record in discover_datasets():
        spec: DatasetSpec | None = record.obj if record.ok else None
        rows.append(
            {
                "name": record.name,
                "distribution": record.distribution,
                "version": record.version,
                "entry_point": record.target,
                "status": "ok" if record.ok else "error",
                "error": record.error,
                **(spec.as_dict() if spec else {"modality": None, "description": "", "folders": [], "published": {}}),
            }
        )
    return rows
