"""Paired comparison of methods on the same test cases.

A method is one leaderboard row: a run scored under one threshold protocol.
Two methods are compared case by case on the per-case values stored for the
chosen metric (``dice``, the paper's: anomalous test cases only), joined on
case id, which is only meaningful when both ran on the same dataset manifest.

Per pair: the mean of each, the mean difference ``a - b`` with a paired
bootstrap percentile confidence interval, the two-sided Wilcoxon signed-rank
p-value (exact for small samples, see :mod:`bench.compare.stats`),
Holm-Bonferroni-adjusted p-values over all pairs, and wins / ties / losses per
case. Ranks follow the means (``1 +`` the number of methods with a better
mean, so they never contradict them); significance is shown as letter groups
(methods sharing a letter are not significantly different).

:func:`compare_arrays` does the arithmetic on plain arrays; the store-backed
:func:`compare_rows` and ``verify`` (on published per-case values) both call it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np

from bench.compare.stats import TIE, holm, letter_groups, mean_ranks, paired_bootstrap_ci, wilcoxon_test
from bench.contract import ANOMALOUS, NORMAL
from bench.errors import BenchError, UnknownNameError
from bench.formatting import json_safe
from bench.leaderboard import LeaderboardRow, leaderboard_rows
from bench.metrics import METRICS
from bench.names import suggest
from bench.store import Store

#: The per-case metrics: which cases they average over and which stored column holds them.
PER_CASE_METRICS = {
    "dice": (ANOMALOUS, "dice"),
    "dice_normal": (NORMAL, "dice"),
    "fp_area_normal": (NORMAL, "pred_fraction"),
}


class ComparisonError(BenchError):
    """Methods cannot be compared: unknown, ambiguous, or scored on different files."""


@dataclass
class MethodStats:
    label: str  # the row's method label (detector[variant]@protocol), with #run_id if two share it
    detector: str
    protocol: str
    run_id: int
    evaluation_id: int
    n: int
    mean: float
    marks: list[str]
    rank: int = 0
    letters: str = ""


@dataclass
class PairStats:
    a: str
    b: str
    a_evaluation_id: int
    b_evaluation_id: int
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float  # mean_a - mean_b, in metric units
    ci_low: float
    ci_high: float
    p_value: float  # two-sided Wilcoxon signed-rank
    p_method: str = "exact"  # exact | normal | none (see bench.compare.stats)
    p_holm: float = math.nan
    wins: int = 0  # cases where a is better than b by more than TIE
    ties: int = 0
    losses: int = 0
    significant: bool = False  # p_holm < alpha
    better: str | None = None  # label of the significantly better method
    note: str | None = None

    @property
    def verdict(self) -> str:
        if self.significant and self.better:
            return f"{self.better} better"
        return "identical" if self.wins == self.losses == 0 else "no significant difference"


@dataclass
class Comparison:
    dataset: str
    manifest_hash: str
    metric: str
    higher_is_better: bool
    n_boot: int
    seed: int
    alpha: float
    methods: list[MethodStats]
    pairs: list[PairStats]
    ranks: dict[int, int]  # evaluation_id -> rank (1 = best mean)
    letters: dict[int, str]  # evaluation_id -> letter groups

    @property
    def confidence(self) -> float:
        return 1 - self.alpha

    def ranked(self) -> list[MethodStats]:
        """Methods best first: by rank, then by mean."""
        sign = -1 if self.higher_is_better else 1
        return sorted(self.methods, key=lambda m: (m.rank, sign * m.mean))

    def as_dict(self) -> dict:
        data = asdict(self)
        data["confidence"] = self.confidence
        for pair, raw in zip(self.pairs, data["pairs"], strict=True):
            raw["verdict"] = pair.verdict
        data["ranks"] = {str(k): v for k, v in self.ranks.items()}
        data["letters"] = {str(k): v for k, v in self.letters.items()}
        return json_safe(data)


# -- methods and their cases ----------------------------------------------------------------


def metric_direction(metric: str) -> bool:
    """Whether higher is better for a per-case metric; an error lists the per-case metrics."""
    if metric in PER_CASE_METRICS:
        return METRICS[metric].higher_is_better
    if metric.startswith("dice_") and metric not in METRICS:
        return True  # a detector's extra mask, stored per anomalous case
    raise ComparisonError(
        f"metric {metric!r} has no per-case values to pair; expected one of {', '.join(PER_CASE_METRICS)} "
        "or dice_<extra mask> (pixel/image AUROC and AUPRO are computed over all cases at once)"
    )


def case_values(store: Store, row: LeaderboardRow, metric: str) -> tuple[set[str], dict[str, float]]:
    """All test case ids of a row's evaluation, and ``{case_id: value}`` of the metric's cases."""
    label, column = PER_CASE_METRICS.get(metric, (ANOMALOUS, None))
    cases = store.case_metrics(row.evaluation_id)
    values: dict[str, float] = {}
    for case in cases:
        if case.label != label:
            continue
        if column is not None:
            values[case.case_id] = float(getattr(case, column))
            continue
        extras = json.loads(case.extras_json or "{}")
        if metric not in extras:
            raise ComparisonError(f"{row.method} (run {row.run_id}) stores no per-case {metric!r} for {case.case_id}")
        values[case.case_id] = float(extras[metric])
    return {c.case_id for c in cases}, values


def _few(ids: set[str], limit: int = 3) -> str:
    shown = ", ".join(sorted(ids)[:limit])
    return f"{shown} (+{len(ids) - limit} more)" if len(ids) > limit else shown


def _check_same_files(rows: list[LeaderboardRow], labels: list[str], case_ids: list[set[str]]) -> None:
    if len({r.manifest_hash for r in rows}) == 1 and all(ids == case_ids[0] for ids in case_ids):
        return
    lines = [
        f"{label} (run {row.run_id}): manifest {row.manifest_hash[:12]}, {len(ids)} test cases"
        for label, row, ids in zip(labels, rows, case_ids, strict=True)
    ]
    ref = 0
    for i in range(1, len(rows)):
        if rows[i].manifest_hash == rows[ref].manifest_hash and case_ids[i] == case_ids[ref]:
            continue
        only_ref, only_i = case_ids[ref] - case_ids[i], case_ids[i] - case_ids[ref]
        if not only_ref and not only_i:
            lines.append(f"{labels[ref]} vs {labels[i]}: same case ids, different file contents")
            continue
        for name, ids in ((labels[ref], only_ref), (labels[i], only_i)):
            if ids:
                lines.append(f"only in {name}: {len(ids)} case(s): {_few(ids)}")
    raise ComparisonError(
        "methods were run on different dataset files, so their cases cannot be paired; " + "; ".join(lines)
    )


def _labels(rows: list[LeaderboardRow]) -> list[str]:
    methods = [r.method for r in rows]
    return [f"{m}#{r.run_id}" if methods.count(m) > 1 else m for m, r in zip(methods, rows, strict=True)]


def compare_rows(
    store: Store,
    rows: list[LeaderboardRow],
    metric: str = "dice",
    n_boot: int = 10000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Comparison:
    """Paired statistics of two or more leaderboard rows scored on the same dataset manifest.

    Every pair's bootstrap uses a fresh generator seeded with ``seed``, so a pair's interval
    does not depend on which other methods are compared. Holm's correction runs over all
    ``k (k - 1) / 2`` pairs; a pair is significant when its Holm p-value is below ``alpha``.
    """
    if len(rows) < 2:
        raise ComparisonError(f"a comparison needs at least two methods, got {len(rows)}")
    if len({r.evaluation_id for r in rows}) < len(rows):
        raise ComparisonError("the same method (run and protocol) is named twice; compare different ones")
    if n_boot < 1 or not 0 < alpha < 1:
        raise ComparisonError(f"expected n_boot >= 1 and 0 < alpha < 1, got n_boot={n_boot}, alpha={alpha}")
    metric_direction(metric)  # an unknown metric is refused before anything is loaded
    labels = _labels(rows)
    loaded = [case_values(store, row, metric) for row in rows]
    _check_same_files(rows, labels, [ids for ids, _ in loaded])
    case_ids = sorted(loaded[0][1])
    if not case_ids:
        raise ComparisonError(f"no test cases carry {metric!r} for {labels[0]} (run {rows[0].run_id})")
    arrays = [np.array([values[c] for c in case_ids]) for _, values in loaded]
    return compare_values(rows, arrays, metric, n_boot=n_boot, seed=seed, alpha=alpha)


def compare_values(
    rows: list[LeaderboardRow], arrays: list[np.ndarray], metric: str, *, n_boot: int, seed: int, alpha: float
) -> Comparison:
    """The comparison of ``rows`` from their per-case values (``arrays``: aligned on the same cases, same order)."""
    methods = [
        MethodStats(label, r.detector, r.protocol, r.run_id, r.evaluation_id, len(a), float(a.mean()), r.marks)
        for label, r, a in zip(_labels(rows), rows, arrays, strict=True)
    ]
    pairs = compare_arrays(methods, arrays, metric_direction(metric), n_boot, seed, alpha)
    return Comparison(
        dataset=rows[0].dataset,
        manifest_hash=rows[0].manifest_hash,
        metric=metric,
        higher_is_better=metric_direction(metric),
        n_boot=n_boot,
        seed=seed,
        alpha=alpha,
        methods=methods,
        pairs=pairs,
        ranks={m.evaluation_id: m.rank for m in methods},
        letters={m.evaluation_id: m.letters for m in methods},
    )


def compare_arrays(
    methods: list[MethodStats], arrays: list[np.ndarray], higher: bool, n_boot: int, seed: int, alpha: float
) -> list[PairStats]:
    """Every pair of ``methods`` (per-case values ``arrays``, aligned on the same cases); fills ranks and letters.

    Every pair's bootstrap uses a fresh generator seeded with ``seed``, so a pair's interval
    does not depend on which other methods are compared. Holm's correction runs over all
    ``k (k - 1) / 2`` pairs; a pair is significant when its Holm p-value is below ``alpha``
    and its mean difference is not a tie.
    """
    pairs = [
        _pair(methods[i], methods[j], arrays[i], arrays[j], higher, n_boot, seed, alpha)
        for i, j in combinations(range(len(methods)), 2)
    ]
    sign = 1 if higher else -1
    different: set[frozenset] = set()
    for pair, adjusted in zip(pairs, holm([p.p_value for p in pairs]), strict=True):
        pair.p_holm = adjusted
        pair.significant = adjusted < alpha and abs(pair.mean_diff) > TIE
        if pair.significant:
            pair.better = pair.a if sign * pair.mean_diff > 0 else pair.b
            different.add(frozenset((pair.a_evaluation_id, pair.b_evaluation_id)))
    ranks = mean_ranks({m.evaluation_id: m.mean for m in methods}, higher)
    order = [m.evaluation_id for m in sorted(methods, key=lambda m: (ranks[m.evaluation_id], m.label))]
    letters = letter_groups(order, different)
    for m in methods:
        m.rank, m.letters = ranks[m.evaluation_id], letters[m.evaluation_id]
    return pairs


def _pair(a: MethodStats, b: MethodStats, va, vb, higher: bool, n_boot: int, seed: int, alpha: float) -> PairStats:
    diff = va - vb
    low, high = paired_bootstrap_ci(diff, n_boot, seed, alpha)
    test = wilcoxon_test(diff, alpha)
    gain = diff if higher else -diff
    return PairStats(
        a=a.label,
        b=b.label,
        a_evaluation_id=a.evaluation_id,
        b_evaluation_id=b.evaluation_id,
        n=len(diff),
        mean_a=a.mean,
        mean_b=b.mean,
        mean_diff=float(diff.mean()),
        ci_low=low,
        ci_high=high,
        p_value=test.p_value,
        p_method=test.method,
        wins=int((gain > TIE).sum()),
        ties=int((np.abs(diff) <= TIE).sum()),
        losses=int((gain < -TIE).sum()),
        note=test.note,
    )


# -- method specs ---------------------------------------------------------------------------


def parse_spec(spec: str) -> tuple[str, str | None, int | None]:
    """``DETECTOR[@PROTOCOL][#RUN_ID]`` -> (detector, protocol or None, run id or None)."""
    text, hash_sign, run = spec.partition("#")
    detector, at, protocol = text.partition("@")
    if not detector or (at and not protocol) or (hash_sign and not run.isdigit()):
        raise ComparisonError(
            f"cannot read method {spec!r}; expected DETECTOR[@PROTOCOL][#RUN_ID], e.g. intensity-zscore@valid-f1#3"
        )
    return detector, protocol or None, int(run) if run else None


def _describe(row: LeaderboardRow, differing: list[str]) -> str:
    config = ", ".join(f"{k}={row.config.get(k)!r}" for k in differing)
    return (
        f"#{row.run_id} ({config + ', ' if config else ''}config {row.config_hash[:8]}, seed {row.seed}, "
        f"manifest {row.manifest_hash[:12]}, finished {(row.finished_at or '?')[:19]})"
    )


def resolve_spec(spec: str, rows: list[LeaderboardRow], dataset: str) -> LeaderboardRow:
    """The one row of ``rows`` a method spec names; errors list the choices and how to pick."""
    detector, protocol, run_id = parse_spec(spec)
    found = [r for r in rows if r.detector == detector]
    if not found:
        known = sorted({r.detector for r in rows})
        raise UnknownNameError(
            f"no complete run of {detector!r} on {dataset}{suggest(detector, known)} (stored: {', '.join(known)})"
        )
    if run_id is not None:
        runs = sorted({r.run_id for r in found})
        found = [r for r in found if r.run_id == run_id]
        if not found:
            raise ComparisonError(
                f"run {run_id} is not a complete {detector} run on {dataset}; its runs there: "
                + ", ".join(f"#{i}" for i in runs)
            )
    protocols = sorted({r.protocol for r in found})
    if protocol is None:
        if len(protocols) == 1:
            protocol = protocols[0]
        elif "mask" in protocols:
            protocol = "mask"
        else:
            raise ComparisonError(
                f"{spec!r} is scored under several protocols; name one: "
                + ", ".join(f"{detector}@{p}" for p in protocols)
            )
    chosen = [r for r in found if r.protocol == protocol]
    if not chosen:
        raise ComparisonError(
            f"{detector} has no {protocol!r} evaluation on {dataset}; stored protocols: {', '.join(protocols)}"
        )
    if len(chosen) > 1:
        keys = sorted({k for r in chosen for k in r.config})
        differing = [k for k in keys if len({json.dumps(r.config.get(k), sort_keys=True) for r in chosen}) > 1]
        raise ComparisonError(
            f"{detector}@{protocol} matches {len(chosen)} runs on {dataset}: "
            + "; ".join(_describe(r, differing) for r in sorted(chosen, key=lambda r: r.run_id))
            + f"; pick one as {detector}@{protocol}#RUN_ID"
        )
    return chosen[0]


def compare_methods(store: Store, specs: list[str], dataset: str, **options) -> Comparison:
    """Resolve ``DETECTOR[@PROTOCOL][#RUN_ID]`` specs on ``dataset`` and compare them (:func:`compare_rows`)."""
    if len(specs) < 2:
        raise ComparisonError(f"a comparison needs at least two methods, got {len(specs)}")
    rows = leaderboard_rows(store, dataset)
    if not rows:
        stored = sorted({r.dataset for r in leaderboard_rows(store)})
        raise UnknownNameError(
            f"no complete runs on dataset {dataset!r}{suggest(dataset, stored)} "
            f"(datasets with runs: {', '.join(stored) or 'none'})"
        )
    return compare_rows(store, [resolve_spec(spec, rows, dataset) for spec in specs], **options)
