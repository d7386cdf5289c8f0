"""Datasets: the narrow interface, BMAD loaders, manifests, checks and the registry.

The synthetic benchmark lives in :mod:`bench.datasets.synth` (imported on demand).
"""

from bench.datasets.base import SPLITS, ArrayCaseRef, CaseRef, Dataset, InMemoryDataset
from bench.datasets.bmad import BMAD_BRAIN, BMAD_LIVER, BMAD_RESC, BMAD_SPECS
from bench.datasets.check import CheckReport, check_dataset
from bench.datasets.folder import SYNTHETIC_MARKER, FileCaseRef, FolderDataset
from bench.datasets.layout import Problem, TreeScan, scan_tree
from bench.datasets.manifest import Manifest, ManifestEntry, build_manifest
from bench.datasets.registry import (
    DATASET_GROUP,
    dataset_listing,
    discover_datasets,
    get_dataset_spec,
    list_datasets,
    open_dataset,
)
from bench.datasets.spec import DatasetSpec, SplitCounts

__all__ = [
    "BMAD_BRAIN",
    "BMAD_LIVER",
    "BMAD_RESC",
    "BMAD_SPECS",
    "DATASET_GROUP",
    "SPLITS",
    "SYNTHETIC_MARKER",
    "ArrayCaseRef",
    "CaseRef",
    "CheckReport",
    "Dataset",
    "DatasetSpec",
    "FileCaseRef",
    "FolderDataset",
    "InMemoryDataset",
    "Manifest",
    "ManifestEntry",
    "Problem",
    "SplitCounts",
    "TreeScan",
    "build_manifest",
    "check_dataset",
    "dataset_listing",
    "discover_datasets",
    "get_dataset_spec",
    "list_datasets",
    "open_dataset",
    "scan_tree",
]
