"""Statistical groups: each group's rows compared on per-case DICE, ranks shared where inseparable.

:func:`bench.compare.compare_rows` runs once per (modality, dataset,
manifest) group; its ranks fill each row's ``rank`` and its JSON goes into
the group. A group with one row ranks it 1; a group that cannot be compared
keeps ``rank`` empty and says why.
"""

from __future__ import annotations

from bench.compare import ComparisonError, compare_rows
from bench.publish.board import Board
from bench.store import Store


def rank_groups(
    store: Store, board: Board, *, metric: str = "dice", n_boot: int = 10000, seed: int = 0, alpha: float = 0.05
) -> list[str]:
    """Fill ``rank`` of every row and ``comparison`` of every group; return notes on groups left out."""
    notes = []
    for group in board.groups:
        if len(group.rows) == 1:
            group.rows[0].rank = 1
            group.note = "one row: nothing to compare"
            continue
        try:
            comparison = compare_rows(
                store, [p.row for p in group.rows], metric=metric, n_boot=n_boot, seed=seed, alpha=alpha
            )
        except ComparisonError as exc:
            group.note = f"not compared: {exc}"
            notes.append(f"{group.title}: {group.note}")
            continue
        group.comparison = comparison.as_dict()
        for published in group.rows:
            published.rank = comparison.ranks.get(published.row.evaluation_id)
    return notes
