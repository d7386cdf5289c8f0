"""A grid whose workers write predictions to an S3-compatible server; publish and verify read them from there."""

from __future__ import annotations

import pytest
from grid_support import N_TEST

from bench.grid import DatasetEntry, DetectorEntry, GridPlan, ProcessExecutor, grid_settings, run_grid
from bench.publish import publish, verify_publication
from bench.store import Store


@pytest.mark.slow
def test_workers_write_predictions_to_s3_and_publish_draws_the_gallery_from_there(
    grid_data, s3_url, tmp_path, monkeypatch
):
    import s3fs

    store = Store(str(tmp_path / "grid.db"))
    plan = GridPlan(
        detectors=(DetectorEntry(name="intensity-zscore"),),
        datasets=(
            DatasetEntry(name="bmad-brain", root=str(grid_data / "brain")),
            DatasetEntry(name="bmad-liver", root=str(grid_data / "liver")),
        ),
        protocols="valid-f1,oracle",
    )
    # Two worker processes (they inherit the S3 endpoint and credentials), the cache given as for --cache.
    result = run_grid(plan, store, ProcessExecutor(2, gpus=[]), grid_settings(store, cache=s3_url))
    assert len(result.complete) == 2, [o.error for _, o in result.failed]
    runs = store.list_runs()
    fs = s3fs.S3FileSystem()
    for run in runs:
        objects = fs.find(f"{s3_url.removeprefix('s3://')}/{run.run_key}/predictions", refresh=True)
        assert len(objects) == N_TEST and all(o.endswith(".npz") for o in objects)
    assert not (tmp_path / "cache" / "runs").exists()  # nothing went to the local cache

    monkeypatch.setenv("MIAS_BENCH_PREDICTIONS", s3_url)  # where publish and verify look, as a user sets it
    published = publish(store, "synthetic", tmp_path / "boards")
    assert not [n for n in published.notes if "cached prediction" in n], published.notes
    for run in runs:  # every row (run x protocol) has its masks drawn from the S3 predictions
        masks = list(published.folder.glob(f"gallery/*/*-run{run.id}_*.png"))
        assert len(masks) == 2 * 4, masks  # 2 protocols x (3 anomalous + 1 normal) cases
    report = verify_publication(published.folder, store, rescore=True)
    assert report.ok, [c.problems for c in report.failures]

    monkeypatch.setenv("MIAS_BENCH_PREDICTIONS", str(tmp_path / "elsewhere"))  # a reader without the cache
    blind = publish(store, "synthetic", tmp_path / "boards2")
    assert sum("no cached predictions on this machine" in n for n in blind.notes) == 4
