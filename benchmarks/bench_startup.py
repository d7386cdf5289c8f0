"""Time what the test suite only checks structurally: the CLI's start, the plugin scan, store opening,
and how soon PatchCore fails offline without cached weights.

Figures (median of ``--repeat`` runs, each in a fresh process where that matters):

- ``mias-bench --version`` and ``mias-bench detectors list --json``, as a user runs them;
- discovering every detector and dataset entry point once, in-process;
- opening an existing SQLite store (read-write and read-only) holding ``--runs`` runs with
  ``--cases`` case rows each (the open includes SQLite's quick integrity check);
- ``PatchcoreR18().fit`` with pretrained weights, no cache and ``HF_HUB_OFFLINE=1``, to its WeightsError.

    python benchmarks/bench_startup.py [--repeat 5] [--runs 200] [--cases 400]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "mias-bench"

PATCHCORE_OFFLINE = """
import time
from bench.errors import WeightsError
from bench_patchcore import PatchcoreR18
import numpy as np
from bench.contract import Case
case = Case(id="a", image=np.zeros((32, 32), np.float32), modality="brain", split="train")
start = time.perf_counter()
try:
    PatchcoreR18().fit([case, case])
except WeightsError:
    print(time.perf_counter() - start)
"""


def _median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _subprocess(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, check=True, capture_output=True, env=env)


def _fill_store(path: Path, runs: int, cases: int) -> None:
    from bench.provenance import Provenance
    from bench.store import Store
    from bench.store.owners import Owner

    store = Store(str(path))
    owner = Owner()
    provenance = Provenance(
        detector="d", detector_version="1", plugin_dist="p", plugin_version="1", config_hash="c" * 64, dataset="ds",
        collection="synthetic", modality="brain", manifest_hash="m" * 64, frame="paper-256", n_cases=cases,
    )  # fmt: skip
    fields = {**provenance.columns(), "lineage_key": "l" * 64, "data_location": "/x"}
    rows = [{"case_id": str(j), "label": j % 2, "score": 0.5, "seconds": 0.1} for j in range(cases)]
    for i in range(runs):
        run = store.claim_run({**fields, "run_key": f"k{i}"}, owner).run
        store.add_predictions(run.id, owner.token, rows)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cases", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mias-bench-startup-") as tmp:
        env = {**os.environ, "MIAS_BENCH_DB": str(Path(tmp) / "cli.db"), "HF_HUB_OFFLINE": "1"}
        version = _median_seconds(lambda: _subprocess([str(SCRIPT), "--version"], env), args.repeat)
        listing = _median_seconds(lambda: _subprocess([str(SCRIPT), "detectors", "list", "--json"], env), args.repeat)
        print(f"mias-bench --version:               {version:.3f} s (median of {args.repeat}, fresh process)")
        print(f"mias-bench detectors list --json:   {listing:.3f} s (median of {args.repeat}, fresh process)")

        import bench.registry
        from bench.datasets.registry import discover_datasets
        from bench.plugins import discover_detectors

        def scan() -> None:
            bench.registry.reset()
            discover_detectors()
            discover_datasets()

        scan()  # the first scan imports the plugin modules; later ones measure the scan itself
        print(f"entry-point scan, both groups:      {_median_seconds(scan, args.repeat) * 1000:.1f} ms (in-process)")

        from bench.store import Store

        path = Path(tmp) / "store.db"
        _fill_store(path, args.runs, args.cases)
        size = path.stat().st_size / 2**20
        rw = _median_seconds(lambda: Store(str(path)).close(), args.repeat)
        ro = _median_seconds(lambda: Store(str(path), readonly=True).close(), args.repeat)
        rows = args.runs * args.cases
        print(f"open store, {size:.1f} MiB, {rows:,} case rows: {rw * 1000:.1f} ms read-write, ", end="")
        print(f"{ro * 1000:.1f} ms read-only")

        home = Path(tmp) / "home"
        home.mkdir()
        offline_env = {**env, "HOME": str(home), "HF_HOME": str(home / "hf"), "TORCH_HOME": str(home / "torch")}
        fail = subprocess.run(
            [sys.executable, "-c", PATCHCORE_OFFLINE], capture_output=True, text=True, env=offline_env, check=True
        )
        print(f"PatchCore offline, no cached weights: WeightsError after {float(fail.stdout):.2f} s of fit()")


if __name__ == "__main__":
    main()
