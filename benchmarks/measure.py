"""What the benchmark scripts measure the same way: a process's peak memory, and a detector's fit and predict time.

Imported by the scripts beside it (``python benchmarks/<script>.py`` puts this
folder on ``sys.path``).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Sequence
from typing import Any


def peak_rss() -> int:
    """This process's peak resident set (bytes): VmHWM, which a child does not inherit across exec.

    (``getrusage``'s ru_maxrss does carry the parent's peak over ``execve`` on Linux.)
    """
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def sync(device: str) -> None:
    """Wait for queued CUDA work, so that a timer stops when the work is done."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def time_fit_predict(
    detector: Any, train: Sequence, test: Sequence, device: str, batch_size: int
) -> tuple[float, float]:
    """Seconds to fit on ``train`` and to predict all of ``test``, after one untimed warm-up batch."""
    start = time.perf_counter()
    detector.fit(train)
    sync(device)
    fit_s = time.perf_counter() - start
    detector.predict(test[:batch_size])
    sync(device)
    start = time.perf_counter()
    detector.predict(test)
    sync(device)
    return fit_s, time.perf_counter() - start
