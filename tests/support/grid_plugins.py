"""Detectors for the grid tests, registered through a fake distribution the tests (and Ray workers) import.

Not a test module: tests put this folder on the path of the test process and of every worker.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from bench_intensity_zscore import IntensityZScore


class BlocksOnce(IntensityZScore):
    """intensity-zscore that, in the first run to get there, hangs after ``GRID_BLOCK_AFTER`` test cases.

    That run creates ``GRID_BLOCK_MARKER`` exclusively, writes its process id into it and hangs, so a
    test can SIGKILL exactly that worker at a known point; every other run, and the retry of the
    killed one, finds the marker and goes on. Without ``GRID_BLOCK_MARKER`` it never blocks.
    """

    name = "blocks-once"

    def predict(self, cases):
        done = getattr(self, "_done", 0)
        test = [c for c in cases if c.split == "test"]
        marker = os.environ.get("GRID_BLOCK_MARKER")
        if marker and test and done >= int(os.environ.get("GRID_BLOCK_AFTER", "4")):
            try:
                os.close(os.open(marker + ".claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # stays: once only
            except FileExistsError:
                pass  # another run (or this run's earlier attempt) blocked first
            else:
                Path(marker + ".tmp").write_text(str(os.getpid()))
                os.rename(marker + ".tmp", marker)  # the marker appears with the process id in it
                while True:
                    time.sleep(1)
        self._done = done + len(test)
        return super().predict(cases)


class GreedyZScore(IntensityZScore):
    """intensity-zscore that declares it needs a GPU, two cores and 3 GiB (what a grid then asks a scheduler for)."""

    name = "greedy-zscore"
    capabilities = replace(IntensityZScore.capabilities, gpu=True, cpus=2.0, memory_gib=3.0, modalities=("brain",))
