"""Runner overhead per case: everything the runner does besides the detector.

Runs a detector that returns precomputed 256x256 maps instantly (so its own
time is near zero and measured) through the full runner: framing, contract
validation, prediction cache, store writes, threshold fitting and every
metric. Prints the overhead per case for one and for four protocols.
Target (issue 2): under 5 ms per case.

    python benchmarks/bench_runner_overhead.py [--cases 300]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=300)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="mias-bench-overhead-")
    os.environ["MIAS_BENCH_CACHE"] = os.path.join(tmp, "cache")

    from bench.contract import Capabilities, Detector, LabelledCase, Prediction
    from bench.datasets.base import InMemoryDataset
    from bench.plugins import PluginRecord
    from bench.runner import RunRequest, execute
    from bench.store import Store

    rng = np.random.default_rng(0)
    size = 256
    cases = []
    for split, n in (("train", 4), ("valid", 20), ("test", args.cases)):
        for i in range(n):
            anomalous = split != "train" and i % 2 == 1
            mask = None
            if anomalous:
                mask = np.zeros((size, size), bool)
                y, x = rng.integers(20, 200, 2)
                mask[y : y + 30, x : x + 30] = True
            image = rng.integers(0, 200, (size, size)) / 255
            if mask is not None:
                image = image + 0.2 * mask  # a lesion the map can show: the detector sees only the image
            cases.append(
                LabelledCase(f"{split}/{i:05d}.png", image.astype(np.float32), mask, "brain", split, int(anomalous))
            )
    dataset = InMemoryDataset("overhead", "brain", cases)

    spent = {"detector": 0.0}

    class Instant(Detector):
        name = "instant"
        capabilities = Capabilities(outputs_mask=False, needs_fit=False)

        def predict(self, batch):
            t0 = time.perf_counter()
            out = [Prediction(anomaly_map=c.image, score=float(c.image.max())) for c in batch]
            spent["detector"] += time.perf_counter() - t0
            return out

    import bench.runner.plan as plan_module

    record = PluginRecord("instant", "bench:instant", "benchmark", "0", obj=Instant)
    plan_module.get_detector_record = lambda name: record  # the benchmark's own detector, not an entry point

    # Warm-up on a small copy: imports and first-call costs are not per-case overhead.
    small = InMemoryDataset("warmup", "brain", [c for c in cases if c.split != "test"] + cases[-8:])
    execute(RunRequest("instant", small, "valid-f1,oracle", batch_size=16), Store(os.path.join(tmp, "warm.db")))

    for protocols in ("fixed:1.5", "valid-f1,normal-p99,fixed:1.5,oracle"):
        store = Store(os.path.join(tmp, f"runs-{len(protocols)}.db"))
        spent["detector"] = 0.0
        t0 = time.perf_counter()
        execute(RunRequest("instant", dataset, protocols, batch_size=16), store)
        total = time.perf_counter() - t0
        n = args.cases
        overhead = (total - spent["detector"]) / n * 1000
        print(
            f"protocols={protocols:<40} cases={n} total={total:.2f}s detector={spent['detector']:.3f}s "
            f"runner overhead={overhead:.2f} ms/case (target < 5 ms)"
        )


if __name__ == "__main__":
    main()
