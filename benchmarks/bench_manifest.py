"""Time the manifest of a 10,000-file BMAD-layout tree: cold (hash everything) and cached.

Targets: under 5 s cold, under 0.5 s cached. "Cold" means an empty digest
cache; the files themselves are in the OS page cache, having just been
written.

    python benchmarks/bench_manifest.py [--files 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def write_tree(root: Path, n_files: int, seed: int = 0) -> int:
    """A BraTS2021_slice-layout tree of small distinct PNGs; returns how many files were written."""
    rng = np.random.default_rng(seed)
    n_train = int(n_files * 0.6)
    n_test = (n_files - n_train) // 3  # each anomalous test case has an image and a mask
    written = 0
    folders = ["train/good", "test/good/img", "test/Ungood/img", "test/Ungood/label"]
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)

    def png() -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(buffer, format="PNG")
        return buffer.getvalue()

    for i in range(n_train):
        (root / f"train/good/{i:05d}.png").write_bytes(png())
        written += 1
    for i in range(n_test):
        (root / f"test/good/img/{i:05d}.png").write_bytes(png())
        (root / f"test/Ungood/img/{i:05d}.png").write_bytes(png())
        (root / f"test/Ungood/label/{i:05d}.png").write_bytes(png())
        written += 3
    while written < n_files:
        (root / f"train/good/x{written:05d}.png").write_bytes(png())
        written += 1
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=None, help="write the tree here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["MIAS_BENCH_CACHE"] = str(Path(scratch) / "cache")
        from bench.datasets.bmad import BMAD_BRAIN

        root = args.keep or Path(scratch) / "BraTS2021_slice"
        started = time.perf_counter()
        n = write_tree(root, args.files)
        print(f"wrote {n} files in {time.perf_counter() - started:.2f} s", file=sys.stderr)

        started = time.perf_counter()
        cold = BMAD_BRAIN.open(root).manifest()
        cold_s = time.perf_counter() - started
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            cached = BMAD_BRAIN.open(root).manifest()
            timings.append(time.perf_counter() - started)
        assert cached.hash == cold.hash and len(cold) == n
        cached_s = min(timings)
        print(f"manifest of {n} files: cold {cold_s:.2f} s (target < 5), cached {cached_s:.3f} s (target < 0.5)")
        print(f"hash {cold.hash}")
        return 0 if cold_s < 5 and cached_s < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
