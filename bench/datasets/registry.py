"""Datasets by name, through the ``mias_bench.datasets`` entry-point group.

BMAD's three sets are registered in ``pyproject.toml`` exactly as an outside
package registers its own: an entry point naming a :class:`DatasetSpec`.
Discovery is :mod:`bench.registry`'s (once per process, each entry point in
its own guard, ``MIAS_BENCH_BLOCK`` honoured); a broken one is listed with
its error by ``mias-bench data list`` and never stops the CLI.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.datasets.base import Dataset
from bench.datasets.spec import DatasetSpec
from bench.errors import DatasetError, PluginError
from bench.paths import data_root
from bench.registry import PluginRecord, Registry

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


#: The dataset plugins of this process (``bench.registry.reset()`` forgets them).
DATASETS = Registry(DATASET_GROUP, "dataset", check_dataset_spec)


def discover_datasets() -> list[PluginRecord]:
    """Every dataset entry point, loaded and checked once per process (broken ones carry their error)."""
    return DATASETS.records()


def list_datasets(pattern: str = "*") -> list[str]:
    """Names of datasets that loaded cleanly, filtered by a shell-style wildcard."""
    return DATASETS.names(pattern)


def get_dataset_record(name: str) -> PluginRecord:
    """The record of one dataset; an unknown name suggests close matches."""
    return DATASETS.get(name)


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
                "status": record.status,
                "error": record.error,
                **(spec.as_dict() if spec else {"modality": None, "description": "", "folders": [], "published": {}}),
            }
        )
    return rows
