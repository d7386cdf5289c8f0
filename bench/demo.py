"""The demo: the embedded synthetic benchmark, every offline-capable detector, one leaderboard.

Runs on a fresh machine with no downloads: it writes the synthetic brain,
liver and retina sets in BMAD layouts, runs each installed detector that
can run without network (random-init weights where no checkpoint is
installed, which every stored row and table then says), scores map-only
detectors under the honest threshold protocols plus the oracle, and stores
everything in the demo folder's own database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.datasets.registry import open_dataset
from bench.datasets.synth.writer import SYNTHETIC_MARKER, generate_synthetic
from bench.plugins import discover_detectors
from bench.runner import Reporter, RunFailed, RunRequest, RunResult, execute
from bench.store import Store

#: Which registered dataset reads each synthetic modality's tree.
DEMO_DATASETS = {"brain": "bmad-brain", "liver": "bmad-liver", "retina": "bmad-resc"}
MAP_PROTOCOLS = "valid-f1,normal-p99,oracle"
#: Split sizes of the demo's synthetic sets: small enough that every detector
#: (PatchCore's coreset selection grows with the square of the training set)
#: finishes on a laptop CPU in minutes.
DEMO_SIZES = {"n_train": 24, "n_valid": 10, "n_test": 30}
MASK_PROTOCOLS = "mask"


@dataclass
class DemoPlan:
    detectors: dict[str, dict] = field(default_factory=dict)  # name -> offline overrides
    classes: dict[str, type] = field(default_factory=dict)  # name -> detector class
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why


REFERENCE = "mias-sam"
BASELINE_PROTOCOL = "valid-f1"


@dataclass
class DemoResult:
    folder: Path
    db_url: str
    results: list[RunResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def plan_detectors(only: list[str] | None = None) -> DemoPlan:
    """Every installed detector that can run offline, with the overrides that make it so."""
    plan = DemoPlan()
    for record in discover_detectors():
        if only and record.name not in only:
            continue
        if not record.ok:
            plan.skipped[record.name] = f"broken plugin: {record.error}"
            continue
        try:
            overrides = record.obj.offline_overrides()
        except Exception as exc:  # a plugin's own check must not stop the demo
            plan.skipped[record.name] = f"offline_overrides() failed: {type(exc).__name__}: {exc}"
            continue
        if overrides is None:
            plan.skipped[record.name] = "cannot run offline (needs weights it cannot fetch here)"
            continue
        plan.detectors[record.name] = overrides
        plan.classes[record.name] = record.obj
    return plan


def _synthetic_matches(root: Path, seed: int, size: int) -> bool:
    marker = root / SYNTHETIC_MARKER
    if not marker.is_file():
        return False
    info = json.loads(marker.read_text())
    counts = info.get("counts", {})
    totals = {f"n_{split}": sum(c.values()) for split, c in counts.items()}
    return info.get("seed") == seed and info.get("size") == size and totals == DEMO_SIZES


def prepare_data(folder: Path, seed: int, size: int, progress: Callable | None = None) -> dict[str, Path]:
    """Write (or reuse, when seed, size and counts match) the synthetic trees under ``folder/data``."""
    data = folder / "data"
    todo = [m for m in DEMO_DATASETS if not _synthetic_matches(data / m, seed, size)]
    if todo:
        generate_synthetic(data, todo, seed=seed, size=size, progress=progress, **DEMO_SIZES)
    return {m: data / m for m in DEMO_DATASETS}


def run_demo(
    folder: Path,
    *,
    db: str | None = None,
    seed: int = 0,
    size: int = 256,
    detectors: list[str] | None = None,
    reporter: Callable[[], Reporter] | None = None,
    log: Callable[[str], None] = lambda message: None,
    progress: Callable | None = None,
) -> DemoResult:
    """Generate the data, run every offline-capable detector on each modality, store the results."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(db or str(folder / "mias-bench.db"))
    roots = prepare_data(folder, seed, size, progress)
    plan = plan_detectors(detectors)
    result = DemoResult(folder=folder, db_url=store.url, skipped=plan.skipped)
    for name, why in plan.skipped.items():
        log(f"skipping {name}: {why}")
    for modality, root in roots.items():
        dataset = open_dataset(DEMO_DATASETS[modality], root)
        for name, overrides in plan.detectors.items():
            cls = plan.classes[name]
            if not cls.capabilities.supports(modality):
                continue
            protocols = MASK_PROTOCOLS if cls.capabilities.outputs_mask else MAP_PROTOCOLS
            request = RunRequest(
                detector=name,
                dataset=dataset,
                protocols=protocols,
                overrides=[f"{k}={json.dumps(v)}" for k, v in overrides.items()],
                seed=seed,
            )
            try:
                if reporter is None:
                    result.results.append(execute(request, store))
                else:
                    with reporter() as rep:
                        result.results.append(execute(request, store, rep))
            except RunFailed as exc:
                result.failures.append(str(exc))
                log(f"failed: {exc}")
    return result


def reference_comparisons(store: Store, reference: str = REFERENCE) -> list:
    """Per synthetic dataset: the reference's own mask against each baseline's honest ``valid-f1`` scoring.

    Returns a list of :class:`bench.compare.Comparison` (one per dataset and
    baseline); datasets without the reference, or pairs that cannot be
    compared (different manifests), are left out.
    """
    from bench.compare import ComparisonError, compare_rows
    from bench.leaderboard import group_key, leaderboard_rows

    rows = [r for r in leaderboard_rows(store) if r.collection == "synthetic"]
    comparisons = []
    for key in dict.fromkeys(group_key(r) for r in rows):
        group = [r for r in rows if group_key(r) == key]
        ref = next((r for r in group if r.detector == reference and r.protocol == "mask"), None)
        if ref is None:
            continue
        for base in group:
            if base.detector == reference or base.protocol != BASELINE_PROTOCOL:
                continue
            try:
                comparisons.append(compare_rows(store, [ref, base]))
            except ComparisonError:
                continue
    return comparisons
