"""Grid wall time: 1 against 2 worker processes, and what the Ray executor adds per run.

Generates synthetic brain and liver trees, then runs one grid
(intensity-zscore, two ``grid`` sizes x two modalities x seeds) on a fresh
SQLite store and prediction cache each time:

- ``local``: one after another in this process (the baseline);
- ``process``: 1 and 2 worker processes (spawn, imports and pinning included);
- ``ray``: on a local Ray cluster started here (2 CPUs): runs two at a time,
  then one at a time (each task asks for both CPUs), whose wall time against
  ``local`` is the executor's overhead per run; each once cold (fresh workers)
  and once warm (workers already up).

Prints one line per measurement and the ratios.

    python benchmarks/bench_grid.py [--size 256] [--n-test 40] [--seeds 0-1] [--no-ray]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_ray(temp: Path) -> tuple[subprocess.Popen, str]:
    """A head node on 127.0.0.1 with 2 CPUs (as the tests start it); returns the process and the address."""
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env["MIAS_BENCH_CACHE"] = str(temp / "worker-cache")
    cmd = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--port", str(port)]
    cmd += ["--num-cpus", "2", "--num-gpus", "0", "--include-dashboard", "false", "--disable-usage-stats"]
    cmd += ["--object-store-memory", str(200 * 2**20)]
    cmd += ["--temp-dir", str(temp / "ray")]
    log = temp / "ray.log"
    head = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    while b"Ray runtime started" not in log.read_bytes():
        if head.poll() is not None:
            raise SystemExit(f"ray start failed:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    return head, f"127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--n-test", type=int, default=40)
    parser.add_argument("--seeds", default="0-1")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mb-grid-"))
    os.environ["MIAS_BENCH_CACHE"] = str(tmp / "cache")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep a one-machine cluster on 127.0.0.1

    from bench.datasets.synth.writer import generate_synthetic
    from bench.grid import (
        DatasetEntry,
        DetectorEntry,
        GridPlan,
        LocalExecutor,
        ProcessExecutor,
        Resources,
        expand_grid,
        grid_settings,
        run_grid,
    )
    from bench.store import Store

    generate_synthetic(tmp / "data", ["brain", "liver"], size=args.size, n_train=12, n_valid=8, n_test=args.n_test)
    plan = GridPlan(
        detectors=(DetectorEntry(name="intensity-zscore", set=("grid=64,128",)),),
        datasets=(
            DatasetEntry(name="bmad-brain", root=str(tmp / "data" / "brain")),
            DatasetEntry(name="bmad-liver", root=str(tmp / "data" / "liver")),
        ),
        seeds=args.seeds,
        protocols="valid-f1,oracle",
    )
    counter = iter(range(1000))

    def timed(label: str, executor, sequential: bool = False) -> float:
        n = next(counter)
        store = Store(str(tmp / f"grid-{n}.db"))
        settings = grid_settings(store, cache=str(tmp / f"predictions-{n}"))
        expansion = expand_grid(plan, store)
        if sequential:  # each task asks for both CPUs: Ray runs them one at a time, as local does
            expansion.runs = [dataclasses.replace(r, resources=Resources(cpus=2.0)) for r in expansion.runs]
        started = time.perf_counter()
        result = run_grid(expansion, store, executor, settings)
        wall = time.perf_counter() - started
        failed = [o.error for _, o in result.failed]
        if failed:
            raise SystemExit(f"{label}: {failed}")
        runs = len(result.complete)
        load = os.getloadavg()[0]  # other jobs on the machine change what a second worker can gain
        shown = f"{label:<38} runs={runs:<3} wall={wall:7.2f} s  per run={wall / runs:5.2f} s  load={load:.1f}"
        print(shown, flush=True)
        return wall

    print(f"grid: {os.cpu_count()} cores, images {args.size} px, {args.n_test} test cases per dataset", flush=True)
    timed("warm-up (local, imports)", LocalExecutor())
    local = timed("local", LocalExecutor())
    one = timed("process, 1 worker", ProcessExecutor(1, gpus=[]))
    two = timed("process, 2 workers", ProcessExecutor(2, gpus=[]))
    loose = timed("process, 2 workers, cores not pinned", ProcessExecutor(2, gpus=[], pin_cores=False))
    print(f"process: 1 worker / 2 workers wall-time ratio = {one / two:.2f} (not pinned {one / loose:.2f})")
    if args.no_ray:
        return
    from bench.grid import RayExecutor

    started = time.perf_counter()
    head, address = _start_ray(tmp)
    print(f"ray start --head: {time.perf_counter() - started:.1f} s (once per cluster, not per grid)", flush=True)
    try:
        executor = RayExecutor(address)
        cold = timed("ray, 2 at a time (cold workers)", executor)
        warm = timed("ray, 2 at a time (warm workers)", executor)
        seq = timed("ray, 1 at a time (warm workers)", executor, sequential=True)
        runs = len(expand_grid(plan, Store(str(tmp / "count.db"))).runs)
        print(f"ray: 1-at-a-time overhead against local = {(seq - local) / runs:+.2f} s per run", flush=True)
        print(f"ray: 2-at-a-time wall against process 2 workers = {warm / two:.2f} (cold {cold / two:.2f})")
    finally:
        head.send_signal(signal.SIGTERM)  # --block: it stops the processes it started
        head.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
