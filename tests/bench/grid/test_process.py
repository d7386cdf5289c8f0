"""The process executor: pinned workers on SQLite in WAL mode, a worker killed mid-run, a rerun that does nothing."""

from __future__ import annotations

import sqlite3

import pytest
from grid_support import N_TEST, Killer, rows_per_run, two_by_two_by_two

from bench.grid import FINISHED, LOST, STARTED, ProcessExecutor, plan_slots, run_grid
from bench.store import Store


def test_slots_split_the_cores_evenly_and_deal_the_gpus_round_robin(monkeypatch):
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    slots = plan_slots(3, ["0", "1"], range(8))
    assert [s.cores for s in slots] == [(0, 1), (2, 3, 4), (5, 6, 7)]
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1", "0"]
    assert [s.env["OMP_NUM_THREADS"] for s in slots] == ["2", "3", "3"]
    few = plan_slots(3, [], [4, 5])
    assert [s.cores for s in few] == [(4,), (5,), (4,)] and all("CUDA_VISIBLE_DEVICES" not in s.env for s in few)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the caller's own setting is kept
    assert "OMP_NUM_THREADS" not in plan_slots(2, [], range(4))[0].env
    loose = ProcessExecutor(2, gpus=["3"], pin_cores=False).slots  # threads and GPUs still split, no affinity
    assert [(s.cores, s.env["CUDA_VISIBLE_DEVICES"]) for s in loose] == [((), "3"), ((), "3")]


def test_bad_executor_settings_are_refused():
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="--workers must be at least 1, got 0"):
        ProcessExecutor(0)
    with pytest.raises(ConfigError, match="--retries must be 0 or more"):
        ProcessExecutor(1, retries=-1)


@pytest.mark.slow
def test_two_workers_finish_a_grid_through_a_killed_worker_with_one_row_per_case(grid_data, tmp_path, monkeypatch):
    db = tmp_path / "grid.db"
    store = Store(str(db))
    marker = tmp_path / "blocked"
    # Spawned workers inherit this: the first blocks-once run to predict 4 test cases writes its pid and hangs.
    monkeypatch.setenv("GRID_BLOCK_MARKER", str(marker))
    monkeypatch.setenv("GRID_BLOCK_AFTER", "4")
    plan = two_by_two_by_two(grid_data)
    events = []
    executor = ProcessExecutor(2, gpus=[])
    with Killer(marker) as killer:
        result = run_grid(plan, store, executor, on_event=events.append)
    assert killer.killed is not None, "no worker reached the blocking point"
    assert len(result.complete) == 8 and not result.failed, [o.error for _, o in result.failed]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    runs = store.list_runs()
    assert len(runs) == 8 and {(r.status, r.owner) for r in runs} == {("complete", None)}
    assert rows_per_run(store.url) == {r.id: (N_TEST, N_TEST) for r in runs}  # no row lost, none twice

    # The killed run: lost once, started again in a fresh worker, resumed from its 4 stored cases.
    (lost,) = [e for e in events if e.kind == LOST]
    assert str(killer.killed) in lost.note
    retried = [o for _, o in result.complete if o.index == lost.run.index][0]
    assert retried.attempts == 2 and (retried.resumed, retried.predicted) == (4, N_TEST - 4)
    starts = [e.where for e in events if e.kind == STARTED and e.run.index == lost.run.index]
    assert len(starts) == 2 and starts[0].endswith(f":{killer.killed}") and starts[0] != starts[1]
    assert len({e.where for e in events if e.kind == STARTED}) >= 2  # two workers ran the grid (three with the retry)
    assert sum(e.kind == FINISHED for e in events) == 8

    again = []
    rerun = run_grid(plan, store, executor, on_event=again.append)
    assert not again and len(rerun.skipped) == 8 and len(store.list_runs()) == 8
