"""``leaderboard.md`` and ``leaderboard.csv`` of a published board.

The CSV holds full-precision numbers (Python's shortest round-trip text) and
every provenance field; the Markdown shows metrics in percent, the honest
ranking (rank by mean, letter groups) and the provenance under each table.
Neither holds the publish time, so the same store gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json

from bench.marks import MARKS
from bench.metrics import METRICS
from bench.provenance import provenance_fields
from bench.publish.board import Board, Group, finite
from bench.publish.cells import (
    SHOWN_METRICS,
    marks_text,
    number,
    percent,
    position_texts,
    protocol_text,
    provenance_text,
    rank_text,
    weights_text,
)

#: Leading columns of ``leaderboard.csv``; metrics follow, then every provenance field, then the ids.
LEADING_COLUMNS = (
    "row_id",
    "modality",
    "dataset",
    "method",
    "detector",
    "variant",
    "protocol",
    "fitted_on",
    "threshold",
    "ranked",
    "rank",
    "letters",
    "marks",
    "n_normal",
    "n_anomalous",
)
TRAILING_COLUMNS = ("run_id", "evaluation_id", "upper_bound", "finished_at")


def _raw(value) -> str:
    """A CSV cell: full-precision numbers, empty for missing, JSON for structures."""
    value = finite(value) if isinstance(value, float) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def metric_names(board: Board) -> list[str]:
    """Every metric any row holds: the registry's order first, then the others (e.g. ``dice_mask0``) sorted."""
    present = {k for r in board.rows for k in r.row.metrics}
    return [m for m in METRICS if m in present] + sorted(present - set(METRICS))


def _csv_text(header: list[str], lines: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(lines)
    return buffer.getvalue()


def leaderboard_csv(board: Board) -> str:
    """One line per row: identity and ranking, every metric (fractions, not percent), every provenance field."""
    metrics = metric_names(board)
    provenance = [name for name, _ in provenance_fields() if name not in LEADING_COLUMNS]
    header = [*LEADING_COLUMNS, *metrics, *provenance, *TRAILING_COLUMNS]
    lines = []
    for published in board.rows:
        row = published.row
        values = {
            **row.provenance.as_dict(),
            **{m: row.metrics.get(m) for m in metrics},
            "row_id": published.row_id,
            "method": row.method,
            "variant": row.variant,
            "protocol": row.protocol,
            "fitted_on": row.fitted_on,
            "threshold": row.threshold,
            "ranked": row.ranked,
            "rank": published.rank,
            "letters": published.letters,
            "marks": ";".join(row.marks),
            "n_normal": published.n_cases["normal"],
            "n_anomalous": published.n_cases["anomalous"],
            "run_id": row.run_id,
            "evaluation_id": row.evaluation_id,
            "upper_bound": row.upper_bound,
            "finished_at": row.finished_at,
        }
        lines.append([_raw(values[k]) for k in header])
    return _csv_text(header, lines)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], lines: list[list[str]], right: set[int]) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(header))]
    out = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(_md_cell(c) for c in line) + " |" for line in lines]
    return out


def _md_group(group: Group) -> list[str]:
    header = ["#", "rank", "group", "method", "protocol", "threshold", "weights"]
    header += [METRICS[m].title for m in SHOWN_METRICS] + ["marks", "row"]
    lines = []
    for position, published in zip(position_texts(group), group.rows, strict=True):
        marks = marks_text(published)
        lines.append(
            [
                position,
                rank_text(published),
                published.letters,
                published.row.method,
                protocol_text(published),
                number(published.row.threshold),
                weights_text(published),
                *(percent(published.row.metrics.get(m)) for m in SHOWN_METRICS),
                f"**{marks}**" if marks else "",
                published.row_id,
            ]
        )
    right = {0, 1, 5, *range(7, 7 + len(SHOWN_METRICS))}
    out = [f"## {group.title}", "", f"Manifest `{group.manifest_hash}`.", ""]
    out += _md_table(header, lines, right)
    out += ["", _md_statistics_line(group), ""]
    if group.seeds:
        out += ["DICE across seeds (mean and sample sd over the seeds, in %):", ""]
        seed_lines = [
            [
                s["method"],
                str(len(s["seeds"])),
                percent(s["mean"]),
                percent(s["sd"]),
                percent(s["min"]),
                percent(s["max"]),
            ]
            for s in group.seeds
        ]
        out += _md_table(["method", "seeds", "mean", "sd", "min", "max"], seed_lines, {1, 2, 3, 4, 5}) + [""]
    out += ["Provenance:", ""]
    names = [(name, title) for name, title in provenance_fields() if name not in {"dataset", "collection", "modality"}]
    prov_header = ["row"] + [title for _, title in names]
    prov = [[p.row_id] + [provenance_text(p.row.provenance, name) for name, _ in names] for p in group.rows]
    out += _md_table(prov_header, prov, set())
    return out + [""]


def _md_statistics_line(group: Group) -> str:
    if group.comparison is None:
        return f"Statistical groups: {group.note or 'not compared'}."
    return (
        "Ranked rows are numbered by mean DICE; rows sharing a letter are not significantly different "
        f"(paired Wilcoxon signed-rank on per-case DICE, Holm-corrected over the {len(group.comparison['pairs'])} "
        f"pairs of ranked rows, alpha {group.comparison['alpha']}). Unnumbered rows are outside the ranking."
    )


def leaderboard_markdown(board: Board) -> str:
    """The leaderboard as Markdown: one table per group, provenance under it, the marks explained."""
    out = [
        f"# mias-bench leaderboard: {board.name}",
        "",
        "Metrics in percent. DICE is the mean per-image DICE over anomalous test cases (the paper's); "
        "the threshold protocol of every row is shown with the split it was fitted on. "
        "Full-precision values are in `leaderboard.csv`, per-case values in `cases.csv`, "
        "provenance and schema in `leaderboard.json`; `mias-bench verify` checks the folder on its own "
        "(and against a store with `--db`).",
        "",
        "Marks (decided by the platform from what ran):",
        "",
    ]
    out += [f"- **{m.title}**: {m.rule}{'' if m.ranked else ' (outside the ranking)'}" for m in MARKS.values()]
    out.append("")
    for group in board.groups:
        out += _md_group(group)
    return "\n".join(out).rstrip("\n") + "\n"
