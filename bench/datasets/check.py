"""``mias-bench data check``: counts against the published ones, and every problem in a tree.

Errors stop a dataset from loading (a mask without its image, an anomalous
image without a mask, an unreadable file, an image and mask of different
sizes, a folder the layout rules cannot place). Warnings do not (counts that
differ from the published ones, an anomalous case with an empty mask, a
stray non-PNG file).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.datasets.base import SPLITS, Dataset
from bench.datasets.folder import FolderDataset
from bench.datasets.images import read_image, read_mask
from bench.datasets.layout import Pair, Problem
from bench.datasets.spec import DatasetSpec, SplitCounts
from bench.errors import DatasetError

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class CheckReport:
    """What ``data check`` found. ``counts[split]`` has ``normal``, ``anomalous`` and ``total``."""

    dataset: str
    root: str
    collection: str
    counts: dict[str, dict[str, int]]
    expected: dict[str, dict[str, int | None]]
    expected_source: str
    problems: list[Problem] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # "WxH" -> number of images

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "root": self.root,
            "collection": self.collection,
            "ok": self.ok,
            "counts": self.counts,
            "expected": self.expected,
            "expected_source": self.expected_source,
            "sizes": self.sizes,
            "errors": [{"path": p.path, "message": p.message} for p in self.errors],
            "warnings": [{"path": p.path, "message": p.message} for p in self.warnings],
        }


def _check_pair(root: Path, pair: Pair) -> tuple[list[Problem], str | None]:
    """Decode one image and its mask; return problems and the image size as ``"WxH"``."""
    problems: list[Problem] = []
    try:
        image, _ = read_image(root / pair.image.relpath)
    except DatasetError as exc:
        return [Problem("error", pair.image.relpath, f"unreadable image: {_reason(exc)}")], None
    size = f"{image.shape[1]}x{image.shape[0]}"
    if pair.mask is None:
        return problems, size
    try:
        mask = read_mask(root / pair.mask.relpath)
    except DatasetError as exc:
        return [Problem("error", pair.mask.relpath, f"unreadable mask: {_reason(exc)}")], size
    if mask.shape != image.shape:
        found = f"{mask.shape[1]}x{mask.shape[0]}"
        message = f"mask is {found} (WxH), expected {size} like its image `{pair.image.relpath}`"
        problems.append(Problem("error", pair.mask.relpath, message))
    elif pair.image.label == 1 and not mask.any():
        message = "empty mask on an anomalous case (DICE is undefined for it)"
        problems.append(Problem("warning", pair.mask.relpath, message))
    elif pair.image.label == 0 and mask.any():
        message = f"mask of a normal case has {int(mask.sum())} lesion pixels; normal cases are scored as all-zero"
        problems.append(Problem("warning", pair.mask.relpath, message))
    return problems, size


def _reason(exc: DatasetError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def _expected(dataset: Dataset, spec: DatasetSpec) -> tuple[dict[str, dict[str, int | None]], str]:
    info = dataset.synthetic_info() if isinstance(dataset, FolderDataset) else None
    if info and isinstance(info.get("counts"), dict):
        counts = {s: SplitCounts(**info["counts"][s]).as_dict() for s in SPLITS if s in info["counts"]}
        return counts, f"the generator's marker (seed {info.get('seed')})"
    return {s: spec.published[s].as_dict() for s in SPLITS if s in spec.published}, "BMAD (published)"


def _count_problems(counts, expected, source: str) -> list[Problem]:
    problems = []
    for split in SPLITS:
        want = expected.get(split)
        if want is None:
            continue
        for key in ("normal", "anomalous", "total"):
            if key == "total" and want.get("normal") is not None and want.get("anomalous") is not None:
                continue  # already compared per label
            if want.get(key) is not None and counts[split][key] != want[key]:
                message = f"{counts[split][key]} {key} cases, expected {want[key]} ({source})"
                problems.append(Problem("warning", f"{split}/", message.replace(" total cases", " cases")))
    return problems


def _check_generic(dataset: Dataset, progress: Progress | None) -> tuple[dict, list[Problem], Counter]:
    counts = {s: {"normal": 0, "anomalous": 0, "total": 0} for s in SPLITS}
    problems: list[Problem] = []
    sizes: Counter[str] = Counter()
    refs = [ref for split in SPLITS for ref in dataset.cases(split)]
    for i, ref in enumerate(refs, 1):
        counts[ref.split]["anomalous" if ref.label else "normal"] += 1
        counts[ref.split]["total"] += 1
        try:
            case = ref.load()
            sizes[f"{case.shape[1]}x{case.shape[0]}"] += 1
        except DatasetError as exc:
            problems.append(Problem("error", ref.id, str(exc)))
        if progress:
            progress(i, len(refs))
    return counts, problems, sizes


def check_dataset(
    spec: DatasetSpec, root: str | Path, *, progress: Progress | None = None, workers: int = 4
) -> CheckReport:
    """List every problem of the dataset ``spec`` at ``root``, decoding every file once.

    Raises:
        DatasetError: only when the root itself is missing or holds no dataset.
    """
    dataset = spec.open(root)
    expected, source = _expected(dataset, spec)
    if isinstance(dataset, FolderDataset):
        scan = dataset.scan()
        problems = list(scan.problems)
        counts = dataset.counts()
        sizes: Counter[str] = Counter()
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            checked = pool.map(lambda p: _check_pair(dataset.root, p), scan.pairs)
            for done, (found, size) in enumerate(checked, start=1):
                problems.extend(found)
                if size:
                    sizes[size] += 1
                if progress:
                    progress(done, len(scan.pairs))
    else:
        counts, problems, sizes = _check_generic(dataset, progress)
    problems.extend(_count_problems(counts, expected, source))
    problems.sort(key=lambda p: (p.severity != "error", p.path))
    return CheckReport(
        dataset=spec.name,
        root=dataset.location(),
        collection=dataset.collection,
        counts=counts,
        expected=expected,
        expected_source=source,
        problems=problems,
        sizes=dict(sorted(sizes.items())),
    )
