"""``leaderboard.md``, ``leaderboard.csv`` and ``cases.csv`` of a published leaderboard.

The CSV files hold full-precision numbers (Python's shortest round-trip
text) so a reader can recompute every summary; the Markdown shows metrics
in percent. Neither holds the publish time, so the same store gives the
same bytes.
"""

from __future__ import annotations

import csv
import io
import json

from bench.leaderboard import MARKS
from bench.metrics import METRICS
from bench.publish.board import Board, Group, finite
from bench.publish.cells import (
    MARK_TITLES,
    SHOWN_METRICS,
    marks_text,
    number,
    packages_text,
    percent,
    plugin_text,
    protocol_text,
    rank_text,
    weights_text,
)

LEADERBOARD_COLUMNS = (
    "row_id",
    "modality",
    "dataset",
    "collection",
    "detector",
    "protocol",
    "fitted_on",
    "threshold",
    "rank",
    "marks",
    "transductive",
    "upper_bound",
    "n_normal",
    "n_anomalous",
    "plugin_dist",
    "plugin_version",
    "detector_version",
    "preset",
    "config_hash",
    "config",
    "weights",
    "weights_sha256",
    "manifest_hash",
    "frame",
    "seed",
    "device",
    "git_commit",
    "finished_at",
    "packages",
    "run_id",
    "evaluation_id",
)
CASE_COLUMNS = ("row_id", "run_id", "evaluation_id", "case_id", "label", "dice", "pred_fraction", "extras")


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
    """One line per row: identity, every metric (fractions, not percent), then provenance."""
    metrics = metric_names(board)
    header = [*LEADERBOARD_COLUMNS[:8], *metrics, *LEADERBOARD_COLUMNS[8:]]
    lines = []
    for published in board.rows:
        row = published.row
        values = {
            **{k: getattr(row, k) for k in LEADERBOARD_COLUMNS if hasattr(row, k)},
            **{m: row.metrics.get(m) for m in metrics},
            "row_id": published.row_id,
            "rank": published.rank,
            "marks": ";".join(row.marks),
            "n_normal": published.n_cases["normal"],
            "n_anomalous": published.n_cases["anomalous"],
        }
        lines.append([_raw(values[k]) for k in header])
    return _csv_text(header, lines)


def cases_csv(board: Board) -> str:
    """One line per (row, test case), in row order then case-id order."""
    lines = [
        [
            published.row_id,
            str(published.row.run_id),
            str(published.row.evaluation_id),
            case.case_id,
            str(case.label),
            _raw(case.dice),
            _raw(case.pred_fraction),
            _raw(case.extras),
        ]
        for published in board.rows
        for case in published.cases
    ]
    return _csv_text(list(CASE_COLUMNS), lines)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], lines: list[list[str]], right: set[int]) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(header))]
    out = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(_md_cell(c) for c in line) + " |" for line in lines]
    return out


def _md_group(group: Group) -> list[str]:
    header = ["#", "rank", "method", "protocol", "threshold", "weights", *(METRICS[m].title for m in SHOWN_METRICS)]
    header += ["marks", "row"]
    lines = []
    for position, published in enumerate(group.rows, 1):
        marks = marks_text(published)
        lines.append(
            [
                str(position),
                rank_text(published),
                published.row.detector,
                protocol_text(published),
                number(published.row.threshold),
                weights_text(published),
                *(percent(published.row.metrics.get(m)) for m in SHOWN_METRICS),
                f"**{marks}**" if marks else "",
                published.row_id,
            ]
        )
    right = {0, 1, 4, *range(6, 6 + len(SHOWN_METRICS))}
    out = [f"## {group.title}", "", f"Manifest `{group.manifest_hash}`.", ""]
    out += _md_table(header, lines, right)
    out += ["", "Provenance:", ""]
    prov_header = ["row", "plugin", "detector version", "config hash", "config", "weights sha256"]
    prov_header += ["frame", "seed", "device", "git commit", "finished", "cases (normal/anomalous)", "packages"]
    prov = [
        [
            p.row_id,
            plugin_text(p),
            p.row.detector_version,
            p.row.config_hash,
            "`" + json.dumps(p.row.config, sort_keys=True, separators=(",", ":")) + "`",
            p.row.weights_sha256 or ("random-init" if p.row.weights == "random-init" else "–"),
            p.row.frame,
            str(p.row.seed),
            p.row.device,
            p.row.git_commit or "–",
            p.row.finished_at or "–",
            f"{p.n_cases['normal']}/{p.n_cases['anomalous']}",
            packages_text(p),
        ]
        for p in group.rows
    ]
    out += _md_table(prov_header, prov, set())
    if group.comparison is not None:
        out += ["", _md_groups_line(group)]
    elif group.note:
        out += ["", f"Statistical groups: {group.note}"]
    return out + [""]


def _md_groups_line(group: Group) -> str:
    by_rank: dict[int, list[str]] = {}
    for published in group.rows:
        if published.rank is not None:
            by_rank.setdefault(published.rank, []).append(published.row.method)
    ranks = "; ".join(f"{rank}: {', '.join(names)}" for rank, names in sorted(by_rank.items()))
    return f"Statistical groups (rows sharing a rank are not separable on per-case DICE): {ranks}."


def leaderboard_markdown(board: Board) -> str:
    """The leaderboard as Markdown: one table per group, provenance under it, the marks explained."""
    out = [
        f"# mias-bench leaderboard: {board.name}",
        "",
        "Metrics in percent. DICE is the mean per-image DICE over anomalous test cases (the paper's); "
        "the threshold protocol of every row is shown with the split it was fitted on. "
        "Full-precision values are in `leaderboard.csv`, per-case values in `cases.csv`, "
        "provenance and schema in `leaderboard.json` (`mias-bench verify` checks it against a store).",
        "",
        "Marks:",
        "",
    ]
    out += [f"- **{MARK_TITLES[k]}**: {v}" for k, v in MARKS.items()]
    out.append("")
    for group in board.groups:
        out += _md_group(group)
    return "\n".join(out).rstrip("\n") + "\n"
