"""Paired statistics of per-case values: bootstrap interval, Wilcoxon test, Holm, ranks and letter groups.

Pure functions over numpy arrays; :mod:`bench.compare.comparison` feeds them
the per-case values of stored evaluations, and ``verify`` feeds them the
published per-case values, so both compute the same numbers.

**Wilcoxon signed-rank, stated exactly.** Differences within :data:`TIE` of
zero are dropped (Wilcoxon's own rule, scipy's ``zero_method="wilcox"``);
the remaining ``n`` absolute differences get mid-ranks when tied. The
statistic is ``T+``, the sum of the ranks of positive differences. Its null
distribution is the one obtained by flipping every sign with probability 1/2
given those ranks; when ``n <= EXACT_MAX`` it is computed exactly (by dynamic
programming over doubled ranks, which are integers even with ties) and the
two-sided p-value is ``min(1, 2 min(P(T+ <= t), P(T+ >= t)))``. Above that
the normal approximation is used with the exact null mean ``sum(r) / 2`` and
variance ``sum(r^2) / 4`` (which accounts for ties) and a continuity
correction of one half. Which one was used is returned with the p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Per-case differences at most this large count as ties (and as zeros for the Wilcoxon test).
TIE = 1e-12
#: Up to this many non-zero differences, Wilcoxon's p-value is exact.
EXACT_MAX = 300
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


@dataclass(frozen=True)
class WilcoxonResult:
    """A two-sided Wilcoxon signed-rank test.

    Attributes:
        p_value: two-sided.
        statistic: ``T+``, the rank sum of the positive differences (mid-ranks; NaN when nothing differs).
        n: differences left after dropping zeros.
        method: ``"exact"``, ``"normal"`` or ``"none"`` (nothing to test).
        note: why a reader should take care, or ``None``.
    """

    p_value: float
    statistic: float
    n: int
    method: str
    note: str | None = None


def wilcoxon_test(diff: np.ndarray, alpha: float = 0.05) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of ``diff`` (float, n), as the module docstring states."""
    diff = np.asarray(diff, dtype=np.float64)
    nonzero = diff[np.abs(diff) > TIE]
    n = int(nonzero.size)
    if n == 0:
        return WilcoxonResult(1.0, math.nan, 0, "none", IDENTICAL)
    ranks = stats.rankdata(np.abs(nonzero))  # mid-ranks for ties
    t_plus = float(ranks[nonzero > 0].sum())
    if n <= EXACT_MAX:
        p, method = _exact_p(ranks, t_plus), "exact"
    else:
        p, method = _normal_p(ranks, t_plus), "normal"
    floor = min(1.0, 2 / 2**n) if n < 64 else 0.0
    note = None
    if floor >= alpha:
        note = f"only {n} case(s) differ: the smallest attainable p is {floor:.3g}, so no difference can be significant"
    return WilcoxonResult(p, t_plus, n, method, note)


def wilcoxon_p(diff: np.ndarray, alpha: float = 0.05) -> tuple[float, str | None]:
    """``(p, note)`` of :func:`wilcoxon_test`."""
    result = wilcoxon_test(diff, alpha)
    return result.p_value, result.note


def _exact_p(ranks: np.ndarray, t_plus: float) -> float:
    """Exact two-sided p of ``T+`` under random signs, given mid-ranks (doubled: integers)."""
    doubled = np.rint(2 * ranks).astype(np.int64)
    total = int(doubled.sum())
    dist = np.zeros(total + 1)
    dist[0] = 1.0
    top = 0
    for r in doubled:  # each rank joins T+ or not, with probability 1/2
        shifted = np.zeros_like(dist)
        shifted[r : top + r + 1] = dist[: top + 1]
        dist = 0.5 * (dist + shifted)
        top += int(r)
    t = int(round(2 * t_plus))
    low = float(dist[: t + 1].sum())
    high = float(dist[t:].sum())
    return min(1.0, 2 * min(low, high))


def _normal_p(ranks: np.ndarray, t_plus: float) -> float:
    mean = float(ranks.sum()) / 2
    sd = math.sqrt(float((ranks**2).sum()) / 4)
    z = (abs(t_plus - mean) - 0.5) / sd
    return min(1.0, 2 * float(stats.norm.sf(max(z, 0.0))))


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


def mean_ranks(means: dict, higher_is_better: bool = True) -> dict:
    """Competition ranks by mean: ``1 +`` the number of methods with a strictly better mean.

    So ranks are monotone in the reported mean: a method is never ranked below one with a worse mean.
    """
    sign = 1 if higher_is_better else -1
    return {k: 1 + sum(1 for other in means.values() if sign * (other - v) > TIE) for k, v in means.items()}


def letter_groups(order: list, different: set[frozenset]) -> dict:
    """Compact letter display: methods sharing a letter are not significantly different.

    ``order``: keys, best mean first. ``different``: pairs (as frozensets) that
    differ significantly. Piepho's insert-and-absorb: start with one group of
    all; for every significant pair, split each group holding both into the
    group without one and the group without the other; drop groups contained
    in another. Letters go to the groups in the order of their best member.
    Every significant pair then shares no letter, and every other pair shares one.
    """
    position = {k: i for i, k in enumerate(order)}
    groups: list[frozenset] = [frozenset(order)] if order else []
    for pair in sorted(different, key=lambda p: sorted(position[k] for k in p)):
        a, b = sorted(pair, key=position.__getitem__)
        split: list[frozenset] = []
        for g in groups:
            split += [g - {a}, g - {b}] if (a in g and b in g) else [g]
        unique = list(dict.fromkeys(g for g in split if g))
        groups = [g for g in unique if not any(g < h for h in unique)]
    groups.sort(key=lambda g: sorted(position[k] for k in g))
    letters: dict = {k: [] for k in order}
    for index, group in enumerate(groups):  # groups are in letter order, so each list is too
        for k in group:
            letters[k].append(_letter(index))
    return {k: "".join(v) for k, v in letters.items()}


def _letter(index: int) -> str:
    """a..z, then A..Z, then ``{52}`` and so on (one token per group)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return alphabet[index] if index < len(alphabet) else f"{{{index}}}"
