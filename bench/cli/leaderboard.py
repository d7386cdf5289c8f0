"""``mias-bench leaderboard``: one table per modality, dataset and manifest, sized to the terminal."""

from __future__ import annotations

from itertools import groupby

from bench.cli.options import DATASET_FILTER, DB_OPTION, JSON_OPTION
from bench.cli.render import Column, build_table, emit
from bench.formatting import number, percent


def leaderboard_columns() -> list[Column]:
    """The leaderboard's columns, with the terminal width each needs (metrics in percent)."""
    from bench.metrics import METRICS

    def metric(name: str, min_width: int) -> Column:
        return Column(METRICS[name].title, lambda r: percent(r.metrics.get(name)), number=True, min_width=min_width)

    return [
        Column("#", lambda r: "" if r.position is None else str(r.position), number=True),
        Column("method", lambda r: r.method),
        Column("fitted on", lambda r: r.fitted_on or "", min_width=130),
        Column("threshold", lambda r: number(r.threshold), number=True, min_width=130),
        Column("weights", lambda r: r.weights or "none", min_width=150),
        metric("dice", 0),
        metric("dice_pooled", 100),
        metric("dice_normal", 120),
        metric("pixel_auroc", 0),
        metric("image_auroc", 100),
        metric("aupro", 120),
        Column("marks", lambda r: ", ".join(r.marks)),
        Column("run", lambda r: str(r.run_id), number=True),
    ]


def leaderboard_tables(rows, width: int) -> list:
    """Per group: the rows' table (ranked rows numbered), then the spread across seeds when there is one."""
    from bench.leaderboard import group_key, positions, seed_summaries
    from bench.marks import MARKS

    items = []
    for (modality, dataset, manifest), group in groupby(rows, key=group_key):
        group = list(group)
        for position, row in zip(positions(group), group, strict=True):
            row.position = position
        present = sorted({m for r in group for m in r.marks}, key=list(MARKS).index)
        caption = "metrics in %; unnumbered rows are outside the ranking"
        caption += "".join(f"; {m}: {MARKS[m].rule}" for m in present)
        items.append(
            build_table(
                group,
                leaderboard_columns(),
                width=width,
                title=f"{modality} · {dataset} ({group[0].collection}) · manifest {manifest[:12]}",
                caption=caption,
                style=lambda r: "yellow" if r.upper_bound else ("dim" if not r.ranked else None),
            )
        )
        summaries = seed_summaries(group)
        if summaries:
            items.append(
                build_table(
                    summaries,
                    [
                        Column("method", lambda s: s.method),
                        Column("seeds", lambda s: str(len(s.seeds)), number=True),
                        Column("mean", lambda s: percent(s.mean), number=True),
                        Column("sd", lambda s: percent(s.sd), number=True),
                        Column("min", lambda s: percent(s.min), number=True),
                        Column("max", lambda s: percent(s.max), number=True),
                    ],
                    width=width,
                    title=f"{modality} · {dataset}: DICE across seeds",
                    caption="mean and sample sd over the seeds, in %",
                )
            )
    return items


def leaderboard_command(dataset: str = DATASET_FILTER, as_json: bool = JSON_OPTION, db: str = DB_OPTION) -> None:
    """Print one table per modality: ranked rows by DICE, then marked rows (oracle, random-init) unranked."""
    from bench.leaderboard import leaderboard_rows
    from bench.store import Store

    rows = leaderboard_rows(Store(db, readonly=True), dataset)
    emit(
        [r.as_dict() for r in rows],
        as_json,
        lambda width: leaderboard_tables(rows, width),
        empty="no complete runs stored yet; start one with `mias-bench run`",
    )
