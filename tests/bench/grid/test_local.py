"""The local executor: a grid in this process, what the store holds skipped, a run's failure kept to itself."""

from __future__ import annotations

import dataclasses

import numpy as np
from grid_support import N_TEST, rows_per_run, two_by_two_by_two
from PIL import Image

from bench.grid import (
    FINISHED,
    STARTED,
    DatasetEntry,
    DetectorEntry,
    GridPlan,
    LocalExecutor,
    expand_grid,
    grid_settings,
    run_grid,
)
from bench.store import Store


def test_a_local_grid_runs_everything_once_and_a_rerun_does_nothing(grid_data, tmp_path):
    store = Store(str(tmp_path / "grid.db"))
    plan = two_by_two_by_two(grid_data)
    events = []
    result = run_grid(plan, store, LocalExecutor(store), on_event=events.append)
    assert len(result.complete) == 8 and not result.failed and not result.skipped
    assert [e.kind for e in events] == [STARTED, FINISHED] * 8
    runs = store.list_runs()
    assert len(runs) == 8 and {r.status for r in runs} == {"complete"}
    assert {(r.detector, r.dataset, r.seed) for r in runs} == {
        (d, ds, s) for d in ("intensity-zscore", "blocks-once") for ds in ("bmad-brain", "bmad-liver") for s in (0, 1)
    }
    assert rows_per_run(store.url) == {r.id: (N_TEST, N_TEST) for r in runs}
    for _, outcome in result.complete:  # the outcome carries what the store holds for that run
        assert outcome.evaluations["valid-f1"] == store.summary(store.evaluations(outcome.run_id)[0].id)

    again = []
    rerun = run_grid(plan, store, LocalExecutor(store), on_event=again.append)
    assert not again and len(rerun.skipped) == 8
    assert {o.run_id for _, o in rerun.skipped} == {r.id for r in runs}
    assert len(store.list_runs()) == 8


def test_a_new_protocol_on_stored_runs_is_not_skipped(grid_data, tmp_path):
    store = Store(str(tmp_path / "grid.db"))
    run_grid(two_by_two_by_two(grid_data), store, LocalExecutor(store))
    wider = two_by_two_by_two(grid_data).model_copy(update={"protocols": "valid-f1,oracle"})
    result = run_grid(wider, store, LocalExecutor(store))
    assert len(result.complete) == 8 and not result.skipped
    assert len(store.list_runs()) == 8  # the same runs, one protocol scored on their stored predictions
    assert all(o.predicted == 0 and o.resumed == N_TEST for _, o in result.complete)


def test_a_failing_run_is_reported_and_the_others_still_run(grid_data, tmp_path):
    store = Store(str(tmp_path / "grid.db"))
    plan = GridPlan(
        detectors=(DetectorEntry(name="exploding", set=("after=2",)), DetectorEntry(name="intensity-zscore")),
        datasets=(DatasetEntry(name="bmad-brain", root=str(grid_data / "brain")),),
        protocols="valid-f1",
        batch_size=2,
    )
    result = run_grid(plan, store, LocalExecutor(store))
    ((run, outcome),) = result.failed
    assert run.detector == "exploding" and "GPU fell off the bus" in outcome.error and outcome.run_id is not None
    assert [r.detector for r, _ in result.complete] == ["intensity-zscore"]
    assert {r.detector: r.status for r in store.list_runs()} == {"exploding": "failed", "intensity-zscore": "complete"}


def test_a_worker_with_another_copy_of_the_data_fails_the_run_naming_both_manifests(grid_data, tmp_path):
    import shutil

    copy = tmp_path / "brain"
    shutil.copytree(grid_data / "brain", copy)
    store = Store(str(tmp_path / "grid.db"))
    plan = GridPlan(
        detectors=(DetectorEntry(name="intensity-zscore"),),
        datasets=(DatasetEntry(name="bmad-brain", root=str(copy)),),
        protocols="valid-f1",
    )
    expansion = expand_grid(plan, store)
    planned = expansion.runs[0].manifest_hash
    # The worker's copy changes after planning: one test image is not the planned one.
    image = next((copy / "test").rglob("*.png"))
    pixels = np.asarray(Image.open(image)).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(image)
    result = run_grid(expansion, store, LocalExecutor(store))
    ((_, outcome),) = result.failed
    assert f"has manifest {expand_grid(plan, store).runs[0].manifest_hash[:12]}" in outcome.error
    assert f"planned on manifest {planned[:12]}" in outcome.error and str(copy) in outcome.error
    assert store.list_runs() == []  # nothing stored from the other copy


def test_a_worker_with_other_plugin_code_fails_the_run_instead_of_storing_another_identity(grid_data, tmp_path):
    store = Store(str(tmp_path / "grid.db"))
    plan = GridPlan(
        detectors=(DetectorEntry(name="intensity-zscore"),),
        datasets=(DatasetEntry(name="bmad-liver", root=str(grid_data / "liver")),),
    )
    expansion = expand_grid(plan, store)
    # What a planner with another plugin version computes: another key for the same request.
    expansion.runs[0] = dataclasses.replace(expansion.runs[0], run_key="0" * 64)
    result = run_grid(expansion, store, LocalExecutor(store), grid_settings(store))
    ((_, outcome),) = result.failed
    assert "identity" in outcome.error and "000000000000 where the grid was planned" in outcome.error
    assert store.list_runs() == []
