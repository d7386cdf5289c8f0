"""The honest ranking of each group: rows compared on per-case DICE, ranks by mean, letter groups.

Only rows without a mark that keeps them out of the ranking (oracle,
random-init, self-reported: :mod:`bench.marks`) take part, so neither their
values nor their pairs enter the Holm family. Ranks follow the means; letter
groups say which rows are not separable. Everything here is a function of the
per-case values a board carries, so ``publish`` (from a store) and ``verify``
(from the published files) compute the same numbers.
"""

from __future__ import annotations

import numpy as np

from bench.compare import Comparison, ComparisonError, MethodStats, compare_arrays, metric_direction
from bench.publish.board import Board, Group, PublishedRow


def rank_groups(board: Board) -> list[str]:
    """Fill ``rank``/``letters`` of every ranked row and ``comparison`` of every group; return notes."""
    notes = []
    for group in board.groups:
        for published in group.rows:
            published.rank, published.letters = None, ""
        group.comparison, group.note = None, None
        ranked = [p for p in group.rows if p.row.ranked]
        if not ranked:
            group.note = "no row takes part in the ranking (every row is marked)"
        elif len(ranked) == 1:
            ranked[0].rank, ranked[0].letters = 1, "a"
            group.note = "one ranked row: nothing to compare"
        else:
            try:
                comparison = compare_group(group, ranked, **board.statistics)
            except ComparisonError as exc:
                group.note = f"not compared: {exc}"
                notes.append(f"{group.title}: {group.note}")
                continue
            group.comparison = comparison.as_dict()
            for published in ranked:
                published.rank = comparison.ranks[published.row.evaluation_id]
                published.letters = comparison.letters[published.row.evaluation_id]
    return notes


def compare_group(
    group: Group, rows: list[PublishedRow], *, metric: str, n_boot: int, seed: int, alpha: float
) -> Comparison:
    """Paired statistics of ``rows`` of one group on their published per-case values of ``metric``."""
    if metric != "dice":
        raise ComparisonError(f"published rankings use per-case 'dice'; got {metric!r}")
    higher = metric_direction(metric)
    values = [{c.case_id: c.dice for c in p.cases if c.label == 1} for p in rows]
    case_ids = sorted(values[0])
    for published, cases in zip(rows, values, strict=True):
        if set(cases) != set(case_ids):
            raise ComparisonError(
                f"{published.row.method} has {len(cases)} anomalous cases, {rows[0].row.method} {len(case_ids)}; "
                "rows of one group must hold the same cases"
            )
    if not case_ids:
        raise ComparisonError("the group has no anomalous test case to compare on")
    arrays = [np.array([v[c] for c in case_ids]) for v in values]
    labels = [p.row.method for p in rows]
    labels = [f"{m}#{p.row.run_id}" if labels.count(m) > 1 else m for m, p in zip(labels, rows, strict=True)]
    methods = [
        MethodStats(
            label,
            p.row.detector,
            p.row.protocol,
            p.row.run_id,
            p.row.evaluation_id,
            len(a),
            float(a.mean()),
            p.row.marks,
        )
        for label, p, a in zip(labels, rows, arrays, strict=True)
    ]
    pairs = compare_arrays(methods, arrays, higher, n_boot, seed, alpha)
    return Comparison(
        dataset=group.dataset,
        manifest_hash=group.manifest_hash,
        metric=metric,
        higher_is_better=higher,
        n_boot=n_boot,
        seed=seed,
        alpha=alpha,
        methods=methods,
        pairs=pairs,
        ranks={m.evaluation_id: m.rank for m in methods},
        letters={m.evaluation_id: m.letters for m in methods},
    )
