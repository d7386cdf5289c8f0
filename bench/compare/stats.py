"""Paired statistics of per-case values: bootstrap interval, Wilcoxon test, Holm, ranks.

Pure functions over numpy arrays; :mod:`bench.compare.comparison` feeds them
the per-case values of stored evaluations.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

#: Per-case differences at most this large count as ties (and as zeros for the Wilcoxon test).
TIE = 1e-12
IDENTICAL = "identical per-case values: no difference to test (Wilcoxon undefined; p set to 1)"
_BOOT_CHUNK = 2_000_000  # resampled indices held in memory at once


def paired_bootstrap_ci(diff: np.ndarray, n_boot: int, seed: int, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap CI of ``mean(diff)``, resampling cases with replacement.

    Resample ``k`` draws ``n`` indices with ``numpy.random.default_rng(seed).integers(0, n)``
    in order; the interval is the ``alpha/2`` and ``1 - alpha/2`` percentiles of the
    ``n_boot`` resampled means. ``diff``: float, n (per-case a - b).
    """
    diff = np.asarray(diff, dtype=np.float64)
    n = len(diff)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    step = max(1, _BOOT_CHUNK // n)
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        means[start:stop] = diff[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    low, high = np.percentile(means, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def wilcoxon_p(diff: np.ndarray, alpha: float = 0.05) -> tuple[float, str | None]:
    """Two-sided Wilcoxon signed-rank p-value of ``diff``, and a note when it needs one.

    Differences within :data:`TIE` of zero are zeros (dropped by the test). When all are,
    the test is undefined and p is 1.
    """
    diff = np.asarray(diff, dtype=np.float64)
    nonzero = np.abs(diff) > TIE
    if not nonzero.any():
        return 1.0, IDENTICAL
    with warnings.catch_warnings():
        # scipy warns when zeros or ties force its normal approximation; that is expected here
        warnings.simplefilter("ignore")
        p = float(stats.wilcoxon(np.where(nonzero, diff, 0.0)).pvalue)
    k = int(nonzero.sum())
    floor = min(1.0, 2 / 2**k)
    if floor >= alpha:
        return (
            p,
            f"only {k} case(s) differ: the smallest attainable p is {floor:.3g}, so no difference can be significant",
        )
    return p, None


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for i, k in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (m - i) * p[k]))
        adjusted[k] = running
    return adjusted.tolist()


def statistical_ranks(order: list, better: set[tuple]) -> dict:
    """Ranks where a method is placed one below the worst-ranked method significantly better than it.

    ``order``: keys best mean first. ``better``: ``(winner, loser)`` pairs, each winner before
    its loser in ``order``. ``rank(m) = 1 + max(rank(w) for w significantly better than m)``,
    1 if none, i.e. one plus the length of the longest chain of significant wins ending at
    ``m``. So a significantly better method always ranks strictly higher, two methods with
    the same rank are never significantly different, and a method no other beats ranks 1.
    Unlike growing groups greedily down the sorted list, no chain of small steps ties a
    method with one that beats it significantly.
    """
    ranks: dict = {}
    for key in order:
        ranks[key] = 1 + max((ranks[w] for w, loser in better if loser == key), default=0)
    return ranks
