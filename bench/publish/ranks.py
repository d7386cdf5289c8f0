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

from bench.compare import Comparison, ComparisonError, compare_values
from bench.leaderboard import seed_summaries
from bench.publish.board import Board, Group, PublishedRow


def rank_groups(board: Board) -> list[str]:
    """Fill ``rank``/``letters`` of every ranked row and ``comparison`` of every group; return notes."""
    notes = []
    for group in board.groups:
        for published in group.rows:
            published.rank, published.letters = None, ""
        group.comparison, group.note = None, None
        group.seeds = [s.as_dict() for s in seed_summaries([p.row for p in group.rows])]
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
    return compare_values([p.row for p in rows], arrays, metric, n_boot=n_boot, seed=seed, alpha=alpha)
