"""A grid plan expanded into runs, and what the store already holds left out.

Every combination of dataset x detector entry x config (sweeps expanded by
:func:`bench.overrides.expand_overrides`) x frame x seed is one run. Each is
validated before anything runs, planned with :func:`bench.runner.plan_run`
(so its identity is exactly the one ``mias-bench run`` gives it) and skipped
when the store holds it complete with every asked protocol scored, the rule
:func:`bench.runner.execute` applies. A detector that does not support a
dataset's modality is skipped with that reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.contract import Detector
from bench.datasets.base import Dataset
from bench.datasets.registry import open_dataset
from bench.errors import ConfigError
from bench.grid.job import GridRun, Resources, RunOutcome
from bench.grid.plan import DetectorEntry, GridPlan
from bench.overrides import expand_overrides, parse_settings
from bench.plugins import get_detector
from bench.runner import RunPlan, RunRequest, check_request, plan_run
from bench.runner.execute import summaries
from bench.store import Store


@dataclass
class GridExpansion:
    """Every run of a grid (in plan order), which of them to execute, and the skipped ones' outcomes."""

    runs: list[GridRun] = field(default_factory=list)
    skipped: dict[int, RunOutcome] = field(default_factory=dict)

    @property
    def todo(self) -> list[GridRun]:
        return [r for r in self.runs if r.index not in self.skipped]


def _label(entry: DetectorEntry, overrides: list[str], dataset: str, frame: str, seed: int, frames: int) -> str:
    preset = f"/{entry.preset}" if entry.preset else ""
    config = f"[{','.join(overrides)}]" if overrides else ""
    shown_frame = f" {frame}" if frames > 1 else ""
    return f"{entry.name}{preset}{config} {dataset}{shown_frame} seed {seed}"


def resources_of(cls: type[Detector], device: str) -> Resources:
    """What one run of ``cls`` asks a scheduler for, from its declared capabilities.

    Raises:
        ConfigError: a capability that is not a usable amount (naming the detector).
    """
    caps = cls.capabilities
    if not (math.isfinite(caps.cpus) and caps.cpus > 0) or not (
        math.isfinite(caps.memory_gib) and caps.memory_gib >= 0
    ):
        raise ConfigError(
            f"detector {cls.name!r} declares cpus={caps.cpus} and memory_gib={caps.memory_gib}; "
            "expected cpus > 0 and memory_gib >= 0"
        )
    wants_gpu = device == "cuda" or (device == "auto" and caps.gpu)
    return Resources(cpus=caps.cpus, gpus=1.0 if wants_gpu else 0.0, memory_bytes=int(caps.memory_gib * 2**30))


def _entry_overrides(entry: DetectorEntry, plan: GridPlan, classes: dict[str, type[Detector]]) -> list[list[str]]:
    """Every config combination of one detector entry: its own ``set`` plus the plan's that apply to it."""
    cls = classes[entry.name]
    shared = [
        f"{s.key}={s.raw}"
        for s in parse_settings(list(plan.overrides), list(classes))
        if s.detector == entry.name or (s.detector is None and s.key in cls.Config.model_fields)
    ]
    # The entry's own settings are qualified, so an unknown key is reported against this detector.
    own = [p if p.startswith(f"{entry.name}.") else f"{entry.name}.{p}" for p in entry.overrides]
    return expand_overrides({entry.name: cls}, [*own, *shared])[entry.name]


def expand_grid(plan: GridPlan, store: Store) -> GridExpansion:
    """Expand ``plan`` into runs and skip what ``store`` already holds.

    Raises:
        BenchError: an unknown detector, dataset, preset, ``set`` key or value, protocol or frame, or a
            dataset folder that cannot be opened; all before anything runs.
    """
    classes = {e.name: get_detector(e.name) for e in plan.detectors}
    expand_overrides(classes, list(plan.overrides))  # a plan-wide key no detector has is refused here
    combos = {i: _entry_overrides(e, plan, classes) for i, e in enumerate(plan.detectors)}
    for i, entry in enumerate(plan.detectors):
        protocols = entry.protocols if entry.protocols is not None else plan.protocols
        for chosen in combos[i]:
            for frame in plan.frames:
                check_request(entry.name, entry.preset, chosen, protocols, frame)
    datasets: dict[tuple[str, str], Dataset] = {}
    for d in plan.datasets:
        datasets[d.name, d.root] = open_dataset(d.name, d.root)
    expansion = GridExpansion()
    for d in plan.datasets:
        dataset = datasets[d.name, d.root]
        manifest = dataset.manifest_hash()
        for i, entry in enumerate(plan.detectors):
            cls = classes[entry.name]
            protocols = entry.protocols if entry.protocols is not None else plan.protocols
            for chosen in combos[i]:
                for frame in plan.frames:
                    for seed in plan.seeds:
                        index = len(expansion.runs)
                        label = _label(entry, chosen, d.name, frame, seed, len(plan.frames))
                        request = RunRequest(
                            detector=entry.name,
                            dataset=dataset,
                            protocols=protocols,
                            preset=entry.preset,
                            overrides=chosen,
                            seed=seed,
                            frame=frame,
                            device=plan.device,
                            batch_size=plan.batch_size,
                            allow_new_code=plan.allow_new_code,
                        )
                        supported = cls.capabilities.supports(dataset.modality)
                        planned = plan_run(request) if supported else None
                        key = planned.key if planned is not None else ""
                        run = GridRun(
                            index=index,
                            label=label,
                            detector=entry.name,
                            dataset=d.name,
                            data_root=d.root,
                            manifest_hash=manifest,
                            run_key=key,
                            protocols=protocols,
                            seed=seed,
                            frame=frame,
                            preset=entry.preset,
                            overrides=tuple(chosen),
                            device=plan.device,
                            batch_size=plan.batch_size,
                            allow_new_code=plan.allow_new_code,
                            resources=resources_of(cls, plan.device),
                        )
                        expansion.runs.append(run)
                        if not supported:
                            why = f"{entry.name} does not support modality {dataset.modality!r}"
                            expansion.skipped[index] = RunOutcome(index, "skipped", error=why, attempts=0)
                        elif (held := _stored(store, index, planned)) is not None:
                            expansion.skipped[index] = held
    return expansion


def _stored(store: Store, index: int, planned: RunPlan) -> RunOutcome | None:
    """The stored run of ``planned`` when it is complete with every asked protocol scored, as a skipped outcome."""
    run = store.find_run(planned.key)
    if run is None or run.status != "complete":
        return None
    scored = {e.protocol for e in store.evaluations(run.id, status="complete")}
    if not {p.name for p in planned.protocols} <= scored:
        return None
    return RunOutcome(index, "skipped", run.id, summaries(store, run.id), "already stored", attempts=0)
