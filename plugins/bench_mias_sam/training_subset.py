"""Which training images go into the memory bank: all of them, or a seeded draw of a few.

The code behind the paper's table (the authors' commits of 2025) shuffles
the training images without a seed and stops after 11; their 2026 refactor
uses every image. The ``paper`` preset keeps the 11 but makes the draw a
pure function of a declared seed and the list of training cases it is
given, so it can be recorded and repeated. Training cases reach ``fit`` in a
fixed (sorted) order, and the draw is made from that order.
"""

from __future__ import annotations

import numpy as np

from bench.sdk import ConfigError


def draw_training_subset(available: int, wanted: int | None, seed: int) -> list[int]:
    """Positions (ascending) of the training cases to use, out of ``available`` in their given order.

    Args:
        available: number of training cases.
        wanted: how many to use; ``None`` for all. More than ``available``
            uses all of them.
        seed: seed of the draw (``numpy.random.default_rng``); the same
            ``(available, wanted, seed)`` always gives the same positions.

    Raises:
        ConfigError: there are no training cases.
    """
    if available <= 0:
        raise ConfigError("mias-sam: fit() received no normal training cases; the memory bank would be empty")
    if wanted is None or wanted >= available:
        return list(range(available))
    chosen = np.random.default_rng(seed).choice(available, size=wanted, replace=False)
    return sorted(int(i) for i in chosen)
