"""The Ray executor on a real local cluster with the PostgreSQL store: a worker SIGKILLed mid-run, a reader
publishing meanwhile, one row per case per run at the end, and a rerun that does nothing."""

from __future__ import annotations

import threading

import pytest
from grid_support import N_TEST, Killer, rows_per_run, two_by_two_by_two

from bench.grid import FINISHED, LOST, STARTED, DatasetEntry, DetectorEntry, GridPlan, RayExecutor, run_grid
from bench.publish import PublishError, publish, verify_publication
from bench.store import Store

# One xdist worker runs every test of the group, so the session starts one Ray cluster.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


class Publisher:
    """Publishes the store's synthetic leaderboard over and over on a thread while the grid writes."""

    def __init__(self, url: str, out):
        self.store, self.out = Store(url), out
        self.published, self.errors = 0, []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Publisher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join(120)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                publish(self.store, "synthetic", self.out)
                self.published += 1
            except PublishError as exc:
                if "nothing" not in str(exc).lower():
                    self.errors.append(repr(exc))
            except Exception as exc:  # anything else while workers write is what this test looks for
                self.errors.append(repr(exc))


@pytest.mark.postgres
def test_a_ray_grid_survives_a_killed_worker_with_one_row_per_case_and_a_rerun_does_nothing(
    ray_cluster, grid_data, fresh_postgres_url, tmp_path
):
    store = Store(fresh_postgres_url)
    marker = tmp_path / "blocked"
    env = {"GRID_BLOCK_MARKER": str(marker), "GRID_BLOCK_AFTER": "4"}
    executor = RayExecutor(ray_cluster.address, retries=2, env=env)
    plan = two_by_two_by_two(grid_data)
    events = []
    with Publisher(fresh_postgres_url, tmp_path / "live") as publisher, Killer(marker) as killer:
        result = run_grid(plan, store, executor, on_event=events.append)
    assert killer.killed is not None, "no Ray worker reached the blocking point"
    assert len(result.complete) == 8 and not result.failed, [o.error for _, o in result.failed]
    runs = store.list_runs()
    assert len(runs) == 8 and {(r.status, r.owner) for r in runs} == {("complete", None)}
    assert rows_per_run(fresh_postgres_url) == {r.id: (N_TEST, N_TEST) for r in runs}
    assert publisher.errors == [] and publisher.published >= 1

    # The killed worker's run: Ray started it again, the retry resumed from the 4 cases stored before the kill.
    (lost,) = [e for e in events if e.kind == LOST]
    retried = result.outcomes[lost.run.index]
    assert retried.attempts == 2 and (retried.resumed, retried.predicted) == (4, N_TEST - 4)
    starts = [e.where for e in events if e.kind == STARTED and e.run.index == lost.run.index]
    assert starts[0].endswith(f":{killer.killed}") and len(starts) == 2 and starts[0] != starts[1]
    assert sum(e.kind == FINISHED for e in events) == 8

    final = publish(store, "synthetic", tmp_path / "boards")
    assert final.rows == 8 and verify_publication(final.folder, store, rescore=True).ok

    again = []
    rerun = run_grid(plan, store, executor, on_event=again.append)
    assert not again and len(rerun.skipped) == 8 and len(store.list_runs()) == 8


def test_ray_tasks_ask_for_the_declared_resources_and_a_cluster_without_gpus_runs_them_on_cpus(
    ray_cluster, grid_data, tmp_path
):
    store = Store(str(tmp_path / "grid.db"))
    plan = GridPlan(
        detectors=(DetectorEntry(name="greedy-zscore"),),  # declares gpu, 2 cpus, 3 GiB
        datasets=(DatasetEntry(name="bmad-brain", root=str(grid_data / "brain")),),
    )
    executor = RayExecutor(ray_cluster.address)
    result = run_grid(plan, store, executor)  # 2 of the cluster's 2 CPUs, 3 GiB, no GPU asked of a cluster with none
    assert len(result.complete) == 1, [o.error for _, o in result.failed]
    options = executor._options(result.runs[0], cluster_gpus=0)
    assert (options["num_cpus"], options["num_gpus"], options["memory"]) == (2.0, 0, 3 * 1024**3)
    assert executor._options(result.runs[0], cluster_gpus=1)["num_gpus"] == 1.0
    cuda = GridPlan(**{**plan.model_dump(by_alias=True), "device": "cuda"})
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="device cuda was asked, but the Ray cluster at .* has no GPU"):
        run_grid(cuda, Store(str(tmp_path / "other.db")), executor)
