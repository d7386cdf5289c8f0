"""``index.html``: one self-contained page per published leaderboard.

Inline style and script only (see :mod:`bench.publish.assets`), a content
security policy that forbids loading anything from elsewhere, and gallery
PNGs referenced by relative path. Per group: the sortable leaderboard table
with its marks, the statistical groups, a box plot of per-case DICE (inline
SVG), the gallery and the provenance of every row. All text is escaped.
"""

from __future__ import annotations

import json
from html import escape

from bench.marks import MARKS
from bench.metrics import METRICS
from bench.provenance import provenance_fields
from bench.publish.assets import SCRIPT, STYLE
from bench.publish.board import Board, GalleryImage, Group, GroupGallery, PublishedRow
from bench.publish.cells import (
    SHOWN_METRICS,
    number,
    p_value,
    percent,
    points,
    position_texts,
    provenance_text,
    rank_text,
    weights_text,
)
from bench.publish.plots import box_plot_svg

# 'self' covers the gallery PNGs beside the page; nothing else may load.
CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(value) -> str:
    return escape(str(value), quote=True)


def _sort_value(value: float | None) -> str:
    return "" if value is None or value != value else repr(float(value))


def _marks_html(published: PublishedRow) -> str:
    return "".join(
        f'<span class="mark mark-{_e(m)}" title="{_e(MARKS[m].rule)}">{_e(MARKS[m].title)}</span>'
        for m in published.row.marks
    )


def _row_class(published: PublishedRow) -> str:
    marks = published.row.marks
    return f' class="mark-{_e(marks[0])}"' if marks else ""


def _protocol_cell(published: PublishedRow) -> str:
    row = published.row
    fitted = f'<br><span class="note">fitted on {_e(row.fitted_on)}</span>' if row.fitted_on else ""
    return f'<td data-sort="{_e(row.protocol)}">{_e(row.protocol)}{fitted}</td>'


def _legend() -> str:
    items = "".join(
        f'<dt><span class="mark mark-{_e(k)}">{_e(m.title)}</span></dt><dd>{_e(m.rule)}</dd>' for k, m in MARKS.items()
    )
    items += "<dt>weights <code>none</code></dt><dd>the detector uses no pretrained weights</dd>"
    return f'<dl class="legend">{items}</dl>'


def _board_table(group: Group) -> str:
    head = ["#", "rank", "group", "method", "protocol", "threshold", "weights"]
    head_html = "".join(f'<th scope="col">{_e(h)}</th>' for h in head)
    head_html += "".join(
        f'<th scope="col" title="{_e(METRICS[m].description)}'
        f'{"" if METRICS[m].higher_is_better else " (lower is better)"}">{_e(METRICS[m].title)}</th>'
        for m in SHOWN_METRICS
    )
    head_html += '<th scope="col">marks</th><th scope="col">row</th>'
    body = []
    for position, published in zip(position_texts(group), group.rows, strict=True):
        row = published.row
        cells = [
            f'<td class="num">{_e(position)}</td>',
            f'<td class="num" data-sort="{_e(published.rank if published.rank is not None else "")}">'
            f"{_e(rank_text(published))}</td>",
            f'<td class="mono">{_e(published.letters)}</td>',
            f"<td>{_e(row.method)}</td>",
            _protocol_cell(published),
            f'<td class="num" data-sort="{_sort_value(row.threshold)}">{_e(number(row.threshold))}</td>',
            f'<td title="{_e(row.weights_sha256 or "")}">{_e(weights_text(published))}</td>',
        ]
        cells += [
            f'<td class="num" data-sort="{_sort_value(row.metrics.get(m))}">{_e(percent(row.metrics.get(m)))}</td>'
            for m in SHOWN_METRICS
        ]
        cells.append(f"<td>{_marks_html(published)}</td>")
        cells.append(f'<td class="mono"><a href="#prov-{_e(published.row_id)}">{_e(published.row_id)}</a></td>')
        body.append(f'<tr{_row_class(published)} data-row-id="{_e(published.row_id)}">{"".join(cells)}</tr>')
    return (
        f'<div class="scroll"><table class="board sortable" id="table-{_e(group.group_id)}">'
        f"<caption>metrics in %; ranked rows first, by mean DICE; click a header to sort</caption>"
        f"<thead><tr>{head_html}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _statistics(group: Group) -> str:
    out = ["<h3>Statistical groups</h3>"]
    comparison = group.comparison
    if comparison is None:
        out.append(f'<p class="note">{_e(group.note or "not compared")}</p>')
        return "".join(out)
    out.append(
        f'<p class="note">Ranked rows only (oracle, random-init and self-reported rows are outside the ranking '
        f"and its tests). Rank: by mean per-case {_e(comparison.get('metric', 'dice'))}. Rows sharing a letter are "
        f"not significantly different: paired Wilcoxon signed-rank on the same test cases, Holm-corrected over "
        f"{len(comparison.get('pairs') or [])} pairs, alpha {_e(comparison.get('alpha', ''))}; intervals: "
        f"{_e(comparison.get('n_boot', ''))} paired bootstrap resamples, seed {_e(comparison.get('seed', ''))}.</p>"
    )
    pairs = comparison.get("pairs") or []
    if pairs:
        rows = "".join(
            "<tr>"
            f"<td>{_e(p.get('a'))}</td><td>{_e(p.get('b'))}</td>"
            f'<td class="num">{_e(points(p.get("mean_diff")))}</td>'
            f'<td class="num">{_e(points(p.get("ci_low")))} … {_e(points(p.get("ci_high")))}</td>'
            f'<td class="num">{_e(p_value(p.get("p_value")))} ({_e(p.get("p_method", ""))})</td>'
            f'<td class="num">{_e(p_value(p.get("p_holm")))}</td><td>{_e(p.get("verdict", ""))}</td>'
            "</tr>"
            for p in pairs
        )
        out.append(
            "<details><summary>pairwise differences</summary>"
            '<div class="scroll"><table class="pairs sortable"><thead><tr><th>A</th><th>B</th>'
            "<th>mean A − B (points)</th><th>CI (points)</th><th>p</th><th>p (Holm)</th><th>verdict</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div></details>"
        )
    return "".join(out)


def _seeds(group: Group) -> str:
    if not group.seeds:
        return ""
    rows = "".join(
        f'<tr><td>{_e(s["method"])}</td><td class="num">{len(s["seeds"])}</td>'
        + "".join(f'<td class="num">{_e(percent(s[k]))}</td>' for k in ("mean", "sd", "min", "max"))
        + "</tr>"
        for s in group.seeds
    )
    return (
        '<h3>DICE across seeds</h3><p class="note">Methods run with several seeds: mean and sample standard '
        "deviation of DICE over the seeds (in %), so the luck of a draw shows.</p>"
        '<div class="scroll"><table class="seeds sortable"><thead><tr><th>method</th><th>seeds</th><th>mean</th>'
        f"<th>sd</th><th>min</th><th>max</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _img(image: GalleryImage, alt: str, cls: str = "") -> str:
    extra = f' class="{cls}"' if cls else ""
    return f'<img src="{_e(image.path)}" width="{image.width}" height="{image.height}" alt="{_e(alt)}"{extra}>'


def _gallery(group: Group, gallery: GroupGallery) -> str:
    out = ["<h3>Gallery</h3>"]
    if gallery.cases:
        drawn = [p for p in group.rows if p.row_id in gallery.frames]
        head = "<th>case</th><th>image</th><th>truth</th>" + "".join(
            f"<th>{_e(p.row.method)}<br>{_marks_html(p)}</th>" for p in drawn
        )
        rows = []
        for shown in gallery.cases:
            frame = next(iter(shown.images))
            image, truth = shown.images[frame], shown.truths[frame]
            cells = [
                f'<td class="mono">{_e(shown.case_id)}<br>{"anomalous" if shown.label else "normal"}</td>',
                f'<td><div class="ov">{_img(image, "image " + shown.case_id)}</div></td>',
                f'<td><div class="ov">{_img(image, "image")}{_img(truth, "truth", "mask")}</div></td>',
            ]
            for published in drawn:
                mask = shown.masks.get(published.row_id)
                base = shown.images.get(gallery.frames[published.row_id])
                if mask is None or base is None:
                    cells.append('<td class="note">not available</td>')
                    continue
                dice = shown.dice.get(published.row_id)
                cells.append(
                    f'<td><div class="ov">{_img(base, "image")}'
                    f"{_img(mask, 'mask of ' + published.row.method, 'mask')}</div>"
                    f'<div class="dice">DICE {_e(percent(dice))}</div></td>'
                )
            rows.append(f"<tr>{''.join(cells)}</tr>")
        out.append(
            '<p class="note">Truth in green, each row\'s mask in red over the image, in the frame the metrics '
            "were computed in; DICE of that case under that row.</p>"
            f'<div class="scroll"><table class="gallery"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
    out += [f'<p class="note">{_e(n)}</p>' for n in gallery.notes]
    return "".join(out)


def _provenance(group: Group) -> str:
    names = [(n, t) for n, t in provenance_fields() if n not in {"dataset", "collection", "modality", "config"}]
    head = ["row", "protocol", "threshold", "config", *(t for _, t in names)]
    rows = []
    for published in group.rows:
        row = published.row
        config = json.dumps(row.config, indent=1, sort_keys=True)
        cells = [
            f'<td class="mono" id="prov-{_e(published.row_id)}">{_e(published.row_id)}</td>',
            _protocol_cell(published),
            f'<td class="num mono">{_e("–" if row.threshold is None else repr(row.threshold))}</td>',
            f'<td><details><summary class="mono">{_e(row.config_hash[:16])}…</summary>'
            f'<pre class="mono">{_e(config)}</pre></details></td>',
        ]
        for name, _ in names:
            text = provenance_text(row.provenance, name)
            if name == "packages":
                cells.append(f"<td><details><summary>{len(row.packages)} packages</summary>{_e(text)}</details></td>")
            else:
                cells.append(f'<td class="mono">{_e(text)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head_html = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        "<h3>Provenance</h3>"
        f'<div class="scroll"><table class="provenance sortable"><thead><tr>{head_html}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _group_section(group: Group) -> str:
    gallery = group.gallery
    return (
        f'<section id="{_e(group.group_id)}"><h2>{_e(group.title)}</h2>'
        f'<p class="meta">dataset manifest <code>{_e(group.manifest_hash)}</code> · {len(group.rows)} rows</p>'
        f"{_board_table(group)}{_statistics(group)}{_seeds(group)}"
        f"<h3>Per-case DICE</h3>{box_plot_svg(group)}"
        f"{_gallery(group, gallery)}{_provenance(group)}</section>"
    )


def render_page(board: Board) -> str:
    """The whole ``index.html``."""
    title = f"mias-bench leaderboard: {board.name}"
    contents = "".join(f'<li><a href="#{_e(g.group_id)}">{_e(g.title)}</a></li>' for g in board.groups)
    sections = "".join(_group_section(g) for g in board.groups)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>\n<body>"
        f"<header><h1>{_e(title)}</h1>"
        '<p class="meta">DICE is the mean per-image DICE over anomalous test cases (the paper\'s); every row is a '
        "(detector, config, threshold protocol) triple with the split its threshold was fitted on. Rows of one "
        "table were scored on the same files (same manifest). Files beside this page: "
        "<code>leaderboard.json</code> (provenance, schema <code>mias-bench/leaderboard</code> v2), "
        "<code>leaderboard.csv</code>, <code>cases.csv</code> (per-case values), <code>leaderboard.md</code>, "
        "<code>SHA256SUMS</code>; <code>mias-bench verify DIR</code> recomputes every figure the per-case values "
        "determine and checks every file (<code>--db STORE</code>: against a store too).</p>"
        f"{_legend()}<nav><ul>{contents}</ul></nav></header>\n<main>{sections}</main>\n"
        f"<script>{SCRIPT}</script>\n</body></html>\n"
    )
