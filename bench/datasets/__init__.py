"""Datasets: the narrow interface, loaders and the embedded synthetic benchmark."""

from bench.datasets.base import SPLITS, ArrayCaseRef, CaseRef, Dataset, InMemoryDataset

__all__ = ["SPLITS", "ArrayCaseRef", "CaseRef", "Dataset", "InMemoryDataset"]
