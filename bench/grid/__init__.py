"""Benchmark grids: detectors x configs x datasets x frames x seeds, run locally, on processes or on Ray."""

from bench.grid.events import FINISHED, LOST, STARTED, GridEvent, GridResult
from bench.grid.expand import GridExpansion, expand_grid, resources_of
from bench.grid.job import CodeMismatch, DataMismatch, GridRun, GridSettings, Resources, RunOutcome, run_job
from bench.grid.local import LocalExecutor
from bench.grid.plan import DatasetEntry, DetectorEntry, GridPlan, plan_from_options, read_plan
from bench.grid.process import ProcessExecutor, plan_slots, visible_gpus
from bench.grid.ray_executor import ExecutorUnavailable, RayExecutor, import_ray
from bench.grid.run import GRID_STALE_AFTER_S, Executor, grid_settings, run_grid

__all__ = [
    "FINISHED",
    "GRID_STALE_AFTER_S",
    "LOST",
    "STARTED",
    "CodeMismatch",
    "DataMismatch",
    "DatasetEntry",
    "DetectorEntry",
    "Executor",
    "ExecutorUnavailable",
    "GridEvent",
    "GridExpansion",
    "GridPlan",
    "GridResult",
    "GridRun",
    "GridSettings",
    "LocalExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "Resources",
    "RunOutcome",
    "expand_grid",
    "grid_settings",
    "import_ray",
    "plan_from_options",
    "plan_slots",
    "read_plan",
    "resources_of",
    "run_grid",
    "run_job",
    "visible_gpus",
]
